"""Run cells in isolated worker containers: the engine of `--executor docker` (harness.executors).

One job (a list of cells) runs in one container of the image built by harness.image:

- no network (`network_mode="none"`), read-only root file system, a non-root user (default 65534, "nobody"),
  all capabilities dropped, no privilege escalation, a process limit;
- pinned to `cpuset` CPUs with a memory limit `mem_limit` (swap included) and a small tmpfs at /tmp
  (its pages count against the memory limit);
- the data folders are bind-mounted read-only (`data_dirs`: host path -> container path; the container's
  user must be able to read them), the job itself (runner, ctx, cells) is one read-only JSON file at
  /job/job.json; VOLUMEs the image declares and nobody mounts are covered read-only;
- the worker (`python -m harness.container_worker`) prints one JSON line per finished cell on stdout;
  the host reads them back and is the only one that writes results.

A container killed by its memory limit or by the timeout gives a failed row (never an exception) for the
cell it was running ("container killed: out of memory (limit 1g)" / "timed out after N s"); the cells not
started yet run on in a fresh container, so one bad cell does not take its neighbours down. `timeout` is per
cell: the clock starts when the container starts and restarts at each cell.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from core.errors import HarnessError

DEFAULT_RUNNER = "harness.cells:execute"
WORKER = ["python", "-m", "harness.container_worker"]
JOB_DIR = "/job"
JOB_FILE = "job.json"
NOBODY = "65534:65534"
PROTOCOL = "mathnas-bench/1"  # tag of the worker's protocol lines on stdout
LABEL = "org.mathnas-bench.job"


def _one_line(text, limit: int = 500) -> str:
    return " ".join(str(text).split())[:limit]


def _docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def docker_client(timeout: float = 60):
    """A Docker SDK client whose daemon answered a ping, else a one-line HarnessError saying why."""
    try:
        import docker
    except ImportError:
        raise HarnessError("the Python package 'docker' is not installed (pip install 'docker>=7')") from None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure to reach the daemon is reported the same way
        raise HarnessError(f"no Docker daemon answers at {_docker_host()}: {_one_line(e, 300)} "
                           f"(start one with .ci/docker-setup)") from None
    return client


def docker_available() -> tuple[bool, str]:
    """(True, "Docker <version> at <host>") when a daemon answers, else (False, the reason)."""
    try:
        client = docker_client(timeout=10)
        version = client.version()
    except HarnessError as e:
        return False, str(e)
    except Exception as e:  # noqa: BLE001
        return False, f"the Docker daemon at {_docker_host()} fails: {_one_line(e, 300)}"
    return True, f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')}) at {_docker_host()}"


def _canonical(spec: dict) -> str:
    # the spelling of harness.store.canonical_json for JSON specs (sorted keys, no spaces)
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


def failed_row(cell: dict, error: str, seconds: float = 0.0) -> dict:
    """The row of a cell that did not run to the end, in the runner's row format."""
    spec = cell.get("spec") or {}
    return {"key": cell.get("key"), "cell": _canonical(spec), **spec, "status": "failed",
            "error": _one_line(error, 2000), "seconds": float(seconds)}


def _cpu_count(cpuset: str | None) -> int:
    if not cpuset:
        return 1
    n = 0
    for part in cpuset.split(","):
        lo, _, hi = part.partition("-")
        n += int(hi) - int(lo) + 1 if hi else 1
    return max(n, 1)


def _check(cells, data_dirs) -> None:
    if not isinstance(cells, list) or not all(isinstance(c, dict) and isinstance(c.get("spec"), dict) for c in cells):
        raise HarnessError("cells must be a list of dicts, each with a 'spec' dict and a 'key'")
    for host, inside in (data_dirs or {}).items():
        if not Path(host).exists():
            raise HarnessError(f"data folder {host} does not exist")
        if not str(inside).startswith("/") or str(inside).rstrip("/") in ("", JOB_DIR, "/tmp"):
            raise HarnessError(f"container path {inside!r} for {host} must be absolute and not /, {JOB_DIR} or /tmp")


class _Run:
    """One container over a batch of cells: start, watch the clock, stream protocol lines, then collect."""

    def __init__(self, client, image: str, batch: list[dict], job: dict, config: dict):
        self.client, self.image, self.batch, self.job, self.config = client, image, batch, job, config
        self.timed_out = False
        self.running: int | None = None  # batch index of the cell running now
        self.started_at = 0.0
        self.deadline = float("inf")
        self.lock = threading.Lock()
        self.finished = threading.Event()

    def _watch(self, container) -> None:
        while not self.finished.wait(0.2):
            with self.lock:
                late = time.monotonic() > self.deadline
            if late:
                self.timed_out = True
                try:
                    container.kill()
                except Exception:  # noqa: BLE001 - it may have exited in the meantime
                    pass
                return

    def rows(self) -> Iterator[tuple[int, dict]]:
        """Yield (batch index, row) as the worker finishes cells; afterwards self.outcome says how it ended."""
        import docker

        c = self.config
        jobdir = tempfile.mkdtemp(prefix="mathnas-bench-job-")
        container = None
        try:
            os.chmod(jobdir, 0o755)
            path = Path(jobdir) / JOB_FILE
            path.write_text(json.dumps({**self.job, "cells": self.batch}))
            os.chmod(path, 0o644)
            volumes = {str(Path(h).resolve()): {"bind": str(v), "mode": "ro"} for h, v in c["data_dirs"].items()}
            volumes[jobdir] = {"bind": JOB_DIR, "mode": "ro"}
            tmpfs = {"/tmp": f"rw,nosuid,nodev,size={c['tmpfs']},mode=1777"}
            # VOLUMEs of the image not mounted here would be writable anonymous volumes: cover them read-only
            for declared in self._image_volumes():
                if declared not in tmpfs and all(v["bind"].rstrip("/") != declared.rstrip("/") for v in volumes.values()):
                    tmpfs[declared] = "ro,nosuid,nodev,noexec,size=4k"
            try:
                container = self.client.containers.create(
                    self.image, entrypoint=WORKER, command=[f"{JOB_DIR}/{JOB_FILE}"], user=c["user"],
                    network_mode="none", read_only=True, cpuset_cpus=c["cpuset"], mem_limit=c["mem_limit"],
                    memswap_limit=c["mem_limit"], tmpfs=tmpfs,
                    volumes=volumes, environment=c["env"], working_dir="/tmp", cap_drop=["ALL"],
                    security_opt=["no-new-privileges"], pids_limit=c["pids_limit"], labels={LABEL: "worker"},
                    log_config=docker.types.LogConfig(type="json-file"), detach=True)
            except docker.errors.ImageNotFound:
                raise HarnessError(f"image {self.image} not found (build it with harness.image.build_image)") from None
            except docker.errors.APIError as e:
                raise HarnessError(f"cannot create a worker container of {self.image}: "
                                   f"{_one_line(e.explanation or e, 300)}") from None
            try:
                container.start()
            except docker.errors.APIError as e:
                raise HarnessError(f"cannot start a worker container of {self.image}: "
                                   f"{_one_line(e.explanation or e, 300)}") from None
            timeout = float(c["timeout"])
            with self.lock:
                self.started_at = time.monotonic()
                self.deadline = self.started_at + timeout
            watcher = threading.Thread(target=self._watch, args=(container,), daemon=True)
            watcher.start()
            try:
                buf = b""
                for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=False):
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        event = self._parse(line)
                        if event is None:
                            continue
                        if event["event"] == "start":
                            with self.lock:
                                self.running = event["index"]
                                self.started_at = time.monotonic()
                                self.deadline = self.started_at + timeout
                        elif event["event"] == "row":
                            with self.lock:
                                self.running = None
                            yield event["index"], event["row"]
            finally:
                self.finished.set()
                watcher.join()
            status = container.wait(timeout=60)
            container.reload()
            state = container.attrs.get("State", {})
            stderr = container.logs(stdout=False, stderr=True, tail=20).decode(errors="replace").strip()
            self.outcome = {"exit_code": status.get("StatusCode"), "oom": bool(state.get("OOMKilled")),
                            "timed_out": self.timed_out, "running": self.running,
                            "running_seconds": time.monotonic() - self.started_at,
                            "stderr": stderr.splitlines()[-1] if stderr else ""}
        finally:
            self.finished.set()
            if container is not None:
                try:
                    container.remove(force=True, v=True)
                except Exception:  # noqa: BLE001 - best effort
                    pass
            shutil.rmtree(jobdir, ignore_errors=True)

    def _image_volumes(self) -> list[str]:
        import docker

        try:
            config = self.client.images.get(self.image).attrs.get("Config") or {}
        except docker.errors.ImageNotFound:
            raise HarnessError(f"image {self.image} not found (build it with harness.image.build_image)") from None
        return sorted(config.get("Volumes") or {})

    @staticmethod
    def _parse(line: bytes) -> dict | None:
        line = line.strip()
        if not line.startswith(b"{"):
            return None
        try:
            event = json.loads(line)
        except ValueError:
            return None
        if not isinstance(event, dict) or event.get("protocol") != PROTOCOL:
            return None
        return event


def _reason(outcome: dict, mem_limit: str, timeout: float) -> str:
    if outcome["timed_out"]:
        return f"timed out after {timeout:g} s"
    if outcome["oom"]:
        return f"container killed: out of memory (limit {mem_limit})"
    code = outcome["exit_code"]
    why = f": {outcome['stderr']}" if outcome["stderr"] else ""
    if code == 0:
        return f"worker ended without a row for this cell{why}"
    return f"container exited with code {code}{' (killed)' if code == 137 else ''}{why}"


def iter_in_container(image: str, cells: list[dict], *, data_dirs: dict[str, str] | None = None,
                      cpuset: str | None = None, mem_limit: str = "2g", timeout: float = 3600.0,
                      env: dict[str, str] | None = None, runner: str = DEFAULT_RUNNER, ctx: dict | None = None,
                      user: str = NOBODY, tmpfs: str = "256m", pids_limit: int = 256,
                      client=None) -> Iterator[tuple[int, dict]]:
    """Yield (index into `cells`, row) as cells finish; every cell gets exactly one row."""
    _check(cells, data_dirs)
    if not cells:
        return
    client = client or docker_client()
    threads = str(_cpu_count(cpuset))
    config = {"data_dirs": dict(data_dirs or {}), "cpuset": cpuset, "mem_limit": mem_limit, "timeout": timeout,
              "user": user, "tmpfs": tmpfs, "pids_limit": pids_limit,
              "env": {"HOME": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib", "PYTHONDONTWRITEBYTECODE": "1",
                      "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                      "OPENBLAS_NUM_THREADS": threads, **(env or {})}}
    job = {"runner": runner, "ctx": ctx or {}}
    todo = list(range(len(cells)))
    while todo:
        run = _Run(client, image, [cells[i] for i in todo], job, config)
        done: set[int] = set()
        for local, row in run.rows():
            if 0 <= local < len(todo) and local not in done:
                done.add(local)
                yield todo[local], row
        outcome = run.outcome
        left = [j for j in range(len(todo)) if j not in done]
        if not left:
            return
        reason = _reason(outcome, mem_limit, timeout)
        culprit = outcome["running"]
        if culprit is None or culprit not in left:
            # the worker died before starting a cell (or between cells): nothing to blame, nothing to retry
            for j in left:
                yield todo[j], failed_row(cells[todo[j]], reason)
            return
        yield todo[culprit], failed_row(cells[todo[culprit]], reason, outcome["running_seconds"])
        # the cells not started yet run on in a fresh container
        todo = [todo[j] for j in left if j != culprit]


def run_in_container(image: str, cells: list[dict], *, data_dirs: dict[str, str] | None = None,
                     cpuset: str | None = None, mem_limit: str = "2g", timeout: float = 3600.0,
                     env: dict[str, str] | None = None, runner: str = DEFAULT_RUNNER, ctx: dict | None = None,
                     **options) -> list[dict]:
    """Run `cells` (dicts with spec and key) in one worker container of `image`; one row per cell, in order.

    `runner` is the dotted path "module:function" the worker calls as fn(spec, key, ctx) -> row;
    `ctx` is passed as is (its paths must be container paths, e.g. the `data_dirs` targets).
    Options: user (default "65534:65534"), tmpfs (size of /tmp, default "256m"), pids_limit, client.
    """
    rows: list[dict | None] = [None] * len(cells)
    for i, row in iter_in_container(image, cells, data_dirs=data_dirs, cpuset=cpuset, mem_limit=mem_limit,
                                    timeout=timeout, env=env, runner=runner, ctx=ctx, **options):
        rows[i] = row
    return rows  # type: ignore[return-value]
