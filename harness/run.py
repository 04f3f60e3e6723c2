"""Running a suite: validate, measure live devices, expand, skip what the store has, execute, write rows.

An interrupted run (even SIGKILL) resumes: every finished cell is one atomic file in the store, keyed by
the hash of its spec, and the same suite gives the same table (apart from timing columns) with any executor.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from core.errors import HarnessError
from core.protocols import method_class
from core.sources import Sources
from core.validation import check_int
from harness.executors import EXECUTOR_FUNCS, EXECUTORS, THREAD_ENV, check_ray_address, environment
from harness.plan import expand, measure_live
from harness.protocol import protocol_record
from harness.store import FITS_DIR, ResultStore
from harness.suite import Suite, load_suite
from mathnas.variants import SANDBOX_ENV


@dataclass
class RunSummary:
    suite: str
    out: Path
    total: int
    ran: int
    skipped: int
    failed: int
    failures: list[tuple[str, str]] = field(default_factory=list)  # (cell, error)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def worker_sys_path() -> list[str]:
    """The project root and any extra import folders of this process (tests, user plug-ins) for workers."""
    root = str(Path(__file__).resolve().parents[1])
    extra = [p for p in sys.path if p and os.path.isdir(p) and "-packages" not in p
             and not p.startswith((sys.base_prefix, sys.prefix))]
    return list(dict.fromkeys([root] + extra))


def worker_context(sources: Sources, fit_cache: str | None = None) -> dict:
    """What a worker needs besides a cell: where the data is, the fit cache, the environment, the import path."""
    s = sources.resolve()
    return {"sources": {"data": s.data, "root": s.root, "device_files": list(s.device_files)},
            "env": {k: v for k, v in os.environ.items() if k.startswith("MATHNAS_BENCH") and k != SANDBOX_ENV},
            "sys_path": worker_sys_path(), "fit_cache": fit_cache}


def _costly_first(cells: list) -> tuple[list, dict]:
    """Cells of expensive methods first (stable otherwise): with a pool of workers they then overlap the
    many short cells instead of trailing them. Cells of one method keep their order, which varies the seed
    fastest, so workers starting together rarely wait for the same fit. Also returns each cell's relative
    cost, which the progress bar advances by (its time left then means something)."""
    weight: dict = {}

    def cost(c) -> float:
        key = (c.spec.get("method"), c.spec.get("entry"))
        if key[0] is None:
            return 1.0
        if key not in weight:
            try:
                weight[key] = float(getattr(method_class(*key), "relative_cost", 1.0))
            except HarnessError:
                weight[key] = 1.0
        return weight[key]

    costs = {c.key: cost(c) for c in cells}
    return sorted(cells, key=lambda c: -costs[c.key]), costs


def _suite_text(suite) -> str | None:
    if isinstance(suite, Suite):
        return None
    try:
        return Path(suite).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None   # load_suite names the problem


def _suite(suite, sources) -> Suite:
    return suite if isinstance(suite, Suite) else load_suite(suite, sources)


def run(suite: Suite | str | os.PathLike, out: str | os.PathLike, executor: str = "process", jobs: int | None = None,
        address: str | None = None, data=None, progress: bool = True, **options) -> RunSummary:
    """Run every cell of `suite` not finished in the store `out`; rows land as they complete.

    With the docker executor this driver never imports a plug-in file (they run only in the containers)."""
    if executor == "docker":
        with environment({SANDBOX_ENV: "host"}):
            return _run(suite, out, executor, jobs, address, data, progress, **options)
    return _run(suite, out, executor, jobs, address, data, progress, **options)


def _run(suite, out, executor, jobs, address, data, progress, **options) -> RunSummary:
    t0 = time.perf_counter()
    if executor not in EXECUTORS:
        raise HarnessError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if executor not in EXECUTOR_FUNCS:
        raise HarnessError(f"executor {executor!r} is not available in this build")
    jobs = check_int("--jobs", jobs, 1, 256) if jobs is not None else int(os.cpu_count() or 1)
    if executor == "ray":
        check_ray_address(address)
    sources = Sources.of(data)
    text = _suite_text(suite)
    suite = _suite(suite, sources)
    store = ResultStore(out, create=True)  # schema check before any work
    store.record_protocol(protocol_record(suite, sources, text, executor, jobs))
    notes = measure_live(suite, sources, progress=progress)
    cells, expand_notes = expand(suite, sources)
    notes += expand_notes
    store.clean_temp()
    status = store.status()
    todo, costs = _costly_first([c for c in cells if status.get(c.key) != "ok"])
    summary = RunSummary(suite.name, Path(out), len(cells), 0, len(cells) - len(todo), 0, notes=notes)
    if todo:
        ctx = worker_context(sources, str((Path(out) / FITS_DIR).resolve()))
        rows = EXECUTOR_FUNCS[executor](todo, ctx, jobs, {"address": address, "progress": progress, **options})
        bar = tqdm(total=sum(costs.values()), desc=f"{suite.name}: 0/{len(todo)} cells", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True,
                   bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
        with environment(THREAD_ENV if executor == "serial" else {}), bar:
            try:
                for cell, row in rows:
                    store.write(row)
                    summary.ran += 1
                    if row["status"] != "ok":
                        summary.failed += 1
                        summary.failures.append((cell.describe(), row.get("error") or ""))
                    failed = f", {summary.failed} failed" if summary.failed else ""
                    bar.set_description_str(f"{suite.name}: {summary.ran}/{len(todo)} cells{failed}", refresh=False)
                    bar.update(costs[cell.key])
            finally:
                rows.close()
    store.export_if_stale(ran=summary.ran)
    summary.seconds = time.perf_counter() - t0
    return summary


def plan(suite: Suite | str | os.PathLike, out: str | os.PathLike | None = None, data=None) -> dict:
    """What `run` would do, without running anything (cells per task, already done, notes)."""
    sources = Sources.of(data)
    suite = _suite(suite, sources)
    cells, notes = expand(suite, sources, strict=False)
    done = set()
    if out is not None and Path(out).is_dir():
        done = {k for k, s in ResultStore(out).status().items() if s == "ok"}
    per_task: dict[str, int] = {}
    for c in cells:
        per_task[c.spec["task"]] = per_task.get(c.spec["task"], 0) + 1
    return {"suite": suite.name, "cells": len(cells), "per_task": per_task,
            "done": sum(c.key in done for c in cells), "notes": notes}
