"""One cell -> one result row. Pure given the cell's spec (its seed included); any failure is a failed row.

`execute(spec, key, ctx)` is what every executor calls (serially, in a process pool, on Ray, or inside a
container); `ctx` carries the data sources and worker settings, never state of the driver.
"""
from __future__ import annotations

import os
import pickle
import sys
import time
from dataclasses import asdict

import numpy as np

from analyses.claims import claims_table
from analyses.solver_bench import run_benchmark
from core import fitcache
from core.errors import one_line
from core.protocols import Problem
from core.sources import Sources
from evaluation.evaluate import predict_report, search_report
from evaluation.groundtruth import ground_truth, pareto_front, preload
from harness.store import canonical_json

# Worker threads: one per cell, so cells are independent of the executor and of each other.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
SEARCH_FIELDS = ("arch", "arch_index", "true_accuracy", "true_latency", "true_energy", "true_flops", "feasible",
                 "optimum_accuracy", "optimum_arch", "regret", "queries", "hw_queries", "search_seconds", "predicted",
                 "trajectory", "regime", "device_live", "deviations", "floor_accuracy", "search_split",
                 "score_split", "noise")


def _regime(spec: dict) -> dict:
    return {"regime": spec.get("regime", "free"), "hw_cost": spec.get("hw_cost") or 0.0,
            "hw_budget": spec.get("hw_budget")}


def predict_cell(spec: dict, sources: Sources) -> dict:
    """predict_report's scores, plus a seeded sample of (true, predicted) pairs for the scatter plots."""
    return predict_report(spec["method"], spec["dataset"], spec["device"], seed=spec["seed"], budget=spec["budget"],
                          data=sources, sample_size=spec["sample_size"], space=spec.get("space", "nb201"),
                          entry=spec.get("entry"), **_regime(spec), **spec["params"])


def search_cell(spec: dict, sources: Sources) -> dict:
    problem = Problem(spec["dataset"], spec["device"], spec["limits"], space=spec.get("space", "nb201"))
    rep = search_report(spec["method"], problem, seed=spec["seed"], budget=spec["budget"], data=sources,
                        entry=spec.get("entry"), **_regime(spec), **spec["params"])
    out = {k: rep.get(k) for k in SEARCH_FIELDS}
    extra = {k: v for k, v in rep.items() if k not in SEARCH_FIELDS}
    if extra:
        out["extra"] = extra
    return out


def groundtruth_cell(spec: dict, sources: Sources) -> dict:
    """Exact Pareto fronts and a seeded cloud of architectures for the accuracy-vs-cost figures."""
    gt = ground_truth(spec["dataset"], spec["device"], sources, space=spec.get("space", "nb201"))
    out: dict = {}
    rng = np.random.default_rng(spec["seed"])
    for metric in ("latency", "energy"):
        if not gt.has(metric):
            continue
        cost = gt.metric(metric)
        known = np.flatnonzero(np.isfinite(cost))
        front = pareto_front(gt, (metric,))   # unmeasured rows (live devices) are never on it
        cloud = np.sort(rng.permutation(known)[: spec["sample_size"]])
        out[metric] = {"front_rows": front.tolist(), "front_accuracy": gt.accuracy[front].tolist(),
                       "front_cost": cost[front].tolist(), "cloud_accuracy": gt.accuracy[cloud].tolist(),
                       "cloud_cost": cost[cloud].tolist(), "measured": int(known.size), "unit": gt.unit(metric)}
    return {"truth": out}


def solvers_cell(spec: dict, sources: Sources) -> dict:
    """One backend on every instance of one family; per-instance records kept for the report (agreement
    across backends, time vs size); their wall times sit in the timing column."""
    opts = spec.get("options", {})
    records = run_benchmark([spec["family"]], [spec["backend"]], time_limit=opts.get("time_limit", 10.0),
                            seed=spec["seed"], progress=False, ratio=opts.get("ratio"), data=sources)
    recs = [asdict(r) for r in records]
    seconds = [float(r.pop("seconds")) for r in recs]
    for r in recs:
        r.pop("nodes", None)  # search-tree sizes of multi-threaded solvers vary from run to run
    n = len(recs)
    gaps = [r["gap"] for r in recs if r.get("gap") is not None]
    agree = sum(bool(r["agree"]) for r in recs)
    return {"instances": n, "optimal": sum(r["status"] == "optimal" for r in recs),
            "unavailable": sum(r["status"] == "unavailable" for r in recs),
            "agree": agree, "agree_rate": agree / n if n else None,
            "max_gap": max(gaps) if gaps else None, "solve_seconds": sum(seconds),
            "mean_seconds": sum(seconds) / n if n else None, "records": recs, "record_seconds": seconds}


def claims_cell(spec: dict, sources: Sources) -> dict:
    """The paper's claims beside ours (analyses.claims), stored as JSON rows for the report."""
    return {"claims": canonical_json(claims_table(sources, seed=spec["seed"]))}


CELL_RUNNERS = {"predict": predict_cell, "search": search_cell, "groundtruth": groundtruth_cell,
                "solvers": solvers_cell, "claims": claims_cell}


_LOADED: set[str] = set()


def prepare_worker(ctx: dict) -> None:
    """Make this process able to run any cell of the suite: environment, import path, one thread, and (in a
    sandboxed container) the ground truth the host prepared, so no data file is needed."""
    for k, v in ctx.get("env", {}).items():
        os.environ.setdefault(k, v)
    for p in reversed(ctx.get("sys_path", [])):
        if p not in sys.path:
            sys.path.insert(0, p)
    path = ctx.get("preload")
    if path and path not in _LOADED:
        with open(path, "rb") as f:   # written by the host driver (harness.executors.docker), never by a user
            preload(pickle.load(f))
        _LOADED.add(path)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _translated(spec: dict, plugin_map: dict) -> dict:
    """The spec with plug-in file paths as the container sees them (the row keeps the user's spelling)."""
    plugin = (spec.get("params") or {}).get("plugin")
    if not plugin_map or plugin is None:
        return spec
    items = plugin if isinstance(plugin, list) else str(plugin).split(",")
    return {**spec, "params": {**spec["params"], "plugin": [plugin_map.get(str(i).strip(), i) for i in items]}}


def sources_of(ctx: dict) -> Sources:
    s = ctx.get("sources") or {}
    return Sources(data=s.get("data"), root=s.get("root"), device_files=tuple(s.get("device_files", ())))


def execute(spec: dict, key: str, ctx: dict) -> dict:
    """Run one cell and return its row; a method that raises gives a failed row, never an exception."""
    prepare_worker(ctx)
    row = {"key": key, "cell": canonical_json(spec), **spec}
    t0 = time.perf_counter()
    with fitcache.use(ctx.get("fit_cache")) as cache:
        try:
            result = CELL_RUNNERS[spec["task"]](_translated(spec, ctx.get("plugin_map")), sources_of(ctx))
            row.update(status="ok", error=None)
            row.update({k: v for k, v in result.items() if k not in row})
        except Exception as e:  # noqa: BLE001 - any failure of a method is recorded in its cell
            row.update(status="failed", error=one_line(f"{type(e).__name__}: {e}", 2000))
        if cache is not None and (cache.stats.hits or cache.stats.misses):
            row["fit_cache"] = cache.stats.as_dict()   # run-dependent (which worker fitted first): not compared
    row["seconds"] = time.perf_counter() - t0
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    return row


def failed_row(spec: dict, key: str, error) -> dict:
    """The row of a cell whose worker died (out of memory, killed container, lost Ray node)."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return {"key": key, "cell": canonical_json(spec), **spec, "status": "failed", "error": one_line(text, 2000),
            "seconds": 0.0}
