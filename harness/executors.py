"""Executors: run cells serially, in a process pool, on Ray or in containers; yield (cell, row) as rows finish.

Each is a generator `fn(cells, ctx, jobs, options) -> (cell, row)`; the driver writes every row to the store
as it arrives, whichever executor produced it. A worker that dies takes only its own cell down (a failed row
with the reason), and workers die with the driver (even when the driver is killed with SIGKILL).
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import pickle
import queue
import shutil
import signal
import socket
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from urllib.parse import urlparse

from core.errors import HarnessError
from core.sources import Sources
from evaluation.groundtruth import ground_truth
from harness.cells import THREAD_ENV, execute, failed_row
from harness.containers import iter_in_container
from harness.image import build_image

EXECUTORS = ("serial", "process", "ray", "docker")
RAY_CONNECT_TIMEOUT = 20.0   # seconds to wait for a Ray head at --address before giving up


@contextlib.contextmanager
def environment(values: dict):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def die_with_parent(parent: int) -> None:
    """Worker initializer: exit when the driver goes away, even if it was killed with SIGKILL.

    Linux delivers SIGKILL to us when our parent dies (prctl PR_SET_PDEATHSIG); elsewhere, and as a
    backstop, a daemon thread notices the parent change within a second."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG = 1

    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()
    if os.getppid() != parent:
        os._exit(1)


def serial(cells, ctx, jobs, options):
    with environment(THREAD_ENV):
        for c in cells:
            yield c, execute(c.spec, c.key, ctx)


def process(cells, ctx, jobs, options):
    spawn = multiprocessing.get_context("spawn")
    with environment(THREAD_ENV), ProcessPoolExecutor(max_workers=min(jobs, len(cells)), mp_context=spawn,
                                                      initializer=die_with_parent,
                                                      initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(execute, c.spec, c.key, ctx): c for c in cells}
        try:
            for fut in as_completed(futures):
                cell = futures[fut]
                try:
                    yield cell, fut.result()
                except Exception as e:  # a worker died (e.g. out of memory): that cell failed
                    yield cell, failed_row(cell.spec, cell.key, e)
        finally:
            for fut in futures:
                fut.cancel()


def check_ray_address(address: str | None) -> None:
    """A clear error before anything is written when --address cannot name a Ray cluster."""
    if address is None or address == "auto":
        return
    text = address if "://" in address else f"ray://{address}"
    try:
        parsed = urlparse(text)
        port = parsed.port
    except ValueError:
        port = None
        parsed = None
    if parsed is None or not parsed.hostname or port is None:
        raise HarnessError(f"--address {address!r}: expected HOST:PORT (or ray://HOST:PORT, or auto)")


def _reachable(address: str) -> None:
    """Fail fast (one line) when nothing listens at a Ray address, instead of Ray's minute-long retries."""
    if address == "auto":
        return
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=5.0):
            pass
    except OSError as e:
        raise HarnessError(f"--address {address}: no Ray cluster answers there ({e.strerror or e})") from None


def ray(cells, ctx, jobs, options):
    import ray as ray_module

    address = options.get("address")
    started = False
    if not ray_module.is_initialized():
        if address:
            _reachable(address)
            ray_module.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            env = {**THREAD_ENV, **ctx.get("env", {}),
                   "PYTHONPATH": os.pathsep.join(p for p in ctx.get("sys_path", []) + [os.environ.get("PYTHONPATH", "")]
                                                 if p)}
            ray_module.init(num_cpus=jobs, include_dashboard=False, logging_level=logging.WARNING,
                            log_to_driver=False, runtime_env={"env_vars": env})
        started = True
    try:
        remote = ray_module.remote(num_cpus=1, max_retries=0)(execute)
        pending = {remote.remote(c.spec, c.key, ctx): c for c in cells}
        while pending:
            done, _ = ray_module.wait(list(pending), num_returns=1)
            for ref in done:
                cell = pending.pop(ref)
                try:
                    yield cell, ray_module.get(ref)
                except Exception as e:  # the task or its worker crashed
                    yield cell, failed_row(cell.spec, cell.key, e)
    finally:
        if started:
            ray_module.shutdown()


# --- containers -------------------------------------------------------------------------------------------------
METHOD_TASKS = ("predict", "search", "groundtruth")
CONTAINER_DATA = "/data"
CONTAINER_TRUTH = "/truth"
DEFAULT_MEMORY = "2g"


def _plugin_files(cells) -> list[str]:
    """Plug-in .py files named by MathNAS cells (`plugin=`), as the user spelled them."""
    out = []
    for c in cells:
        plugin = (c.spec.get("params") or {}).get("plugin")
        items = plugin if isinstance(plugin, list) else [] if plugin is None else str(plugin).split(",")
        out += [str(i).strip() for i in items if str(i).strip().endswith(".py")]
    return list(dict.fromkeys(out))


def _truth_file(cells, sources, folder: Path) -> Path:
    """The ground truth every method cell needs, loaded here on the host and pickled for the workers: method
    code in a container then finds no ground-truth file to open, only what the Oracle hands it."""
    keys = sorted({(c.spec.get("space", "nb201"), c.spec["dataset"], c.spec["device"]) for c in cells})
    truths = [ground_truth(d, dev, sources, space=s) for s, d, dev in keys]
    path = folder / "truth.pkl"
    path.write_bytes(pickle.dumps(truths, protocol=pickle.HIGHEST_PROTOCOL))
    os.chmod(path, 0o644)
    os.chmod(folder, 0o755)
    return path


def docker(cells, ctx, jobs, options):
    """Each job in a worker container of the project image (harness.image, built offline and reused by its
    content hash): no network, read-only root, a non-root user, pinned CPUs, a memory limit. Method cells get
    their ground truth pre-loaded (no data folder is mounted for them) and plug-in files read-only; the other
    cells (solvers, claims: the project's own code) see the data folders read-only. Only the host writes rows."""
    info = build_image(progress=options.get("progress", True))
    s = ctx["sources"]
    sources = Sources(data=s.get("data"), root=s.get("root"), device_files=tuple(s.get("device_files", ())))
    memory = options.get("memory") or DEFAULT_MEMORY
    timeout = float(options.get("timeout") or 3600)
    ncpu = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    method_cells = [c for c in cells if c.spec["task"] in METHOD_TASKS]
    other_cells = [c for c in cells if c.spec["task"] not in METHOD_TASKS]
    tmp = Path(tempfile.mkdtemp(prefix="mathnas-bench-truth-"))
    plugin_map = {}
    for i, f in enumerate(_plugin_files(method_cells)):   # copies, readable by the container's user
        host = Path(f).expanduser().resolve()
        if host.is_file():
            copy = tmp / "plugins" / str(i) / host.name
            copy.parent.mkdir(parents=True)
            shutil.copyfile(host, copy)
            for d in (tmp / "plugins", copy.parent):
                os.chmod(d, 0o755)
            os.chmod(copy, 0o644)
            plugin_map[f] = f"{CONTAINER_TRUTH}/plugins/{i}/{host.name}"
    groups = []   # (cells, data mounts, worker ctx)
    env = {"MPLCONFIGDIR": "/tmp/matplotlib"}
    if method_cells:
        truth = _truth_file(method_cells, sources, tmp)
        groups.append((method_cells, {str(tmp): CONTAINER_TRUTH},
                       {"preload": f"{CONTAINER_TRUTH}/{truth.name}", "plugin_map": plugin_map,
                        "sources": {"data": None, "root": "/nonexistent", "device_files": []}, "env": {}}))
    if other_cells:
        root = Path(sources.root_dir())
        mounts = {str(root): CONTAINER_DATA}
        data = sources.nb201_dir()
        inside = f"{CONTAINER_DATA}/nb201" if data.parent == root and data.name == "nb201" else "/data-nb201"
        if inside == "/data-nb201":
            mounts[str(data)] = inside
        groups.append((other_cells, mounts, {"sources": {"data": inside, "root": CONTAINER_DATA, "device_files": []},
                                             "env": {}}))
    rows: queue.Queue = queue.Queue()
    workers = []

    def work(batch, mounts, wctx, cpu):
        by_key = {c.key: c for c in batch}
        try:
            for i, row in iter_in_container(info.tag, [{"spec": c.spec, "key": c.key} for c in batch],
                                            data_dirs=mounts, cpuset=str(cpu), mem_limit=memory, timeout=timeout,
                                            env=env, ctx=wctx):
                rows.put((batch[i], row))
                by_key.pop(batch[i].key, None)
        except Exception as e:  # noqa: BLE001 - a container that cannot start fails its cells, not the run
            for c in by_key.values():
                rows.put((c, failed_row(c.spec, c.key, e)))
        finally:
            rows.put(None)

    slots = 0
    for batch, mounts, wctx in groups:
        share = max(1, min(jobs, len(batch)))
        for j in range(share):
            part = batch[j::share]
            t = threading.Thread(target=work, args=(part, mounts, wctx, slots % ncpu), daemon=True)
            workers.append(t)
            slots += 1
    try:
        for t in workers:
            t.start()
        done = 0
        while done < len(workers):
            item = rows.get()
            if item is None:
                done += 1
                continue
            yield item
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


EXECUTOR_FUNCS = {"serial": serial, "process": process, "ray": ray, "docker": docker}
