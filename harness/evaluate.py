"""Run one method on one problem and score it against exact ground truth (used by the CLI and the runner)."""
from __future__ import annotations

import time

import numpy as np

from harness.errors import HarnessError
from harness.groundtruth import ground_truth, measured_mask, optimum
from harness.methods import make_method
from harness.metrics import prediction_scores
from harness.oracle import Oracle
from harness.problem import Problem
from spaces.nb201 import format_arch

PREDICTED_METRICS = ("accuracy", "latency", "energy")


def predict_report(method: str, dataset: str, device: str, seed: int = 0, budget: int | None = None,
                   data: str | None = None, sample_size: int = 0, **params) -> dict:
    """Fit a predictor through a budgeted oracle, predict all 15,625 architectures, score each metric.

    Scores use every architecture whose truth is known (live/user devices: the measured rows, counted in
    `n`). With `sample_size`, a seeded sample of (true, predicted) pairs is kept for scatter plots."""
    gt = ground_truth(dataset, device, data)
    oracle = Oracle(gt, budget=budget)
    m = make_method(method, seed=seed, **params)
    if not hasattr(m, "predict"):
        raise HarnessError(f"method {method!r} is a searcher only; it has no predictions to score")
    t0 = time.perf_counter()
    m.fit(oracle, budget)
    fit_seconds = time.perf_counter() - t0
    predictions = m.predict(gt.codes)
    sample = np.sort(np.random.default_rng(seed).permutation(gt.codes.shape[0])[:sample_size])
    pairs: dict = {"rows": sample.tolist()}
    out: dict = {}
    for metric in PREDICTED_METRICS:
        if metric not in predictions or not gt.has(metric):
            out[metric] = None
            continue
        pred, true = np.asarray(predictions[metric], dtype=np.float64), gt.metric(metric)
        known = np.isfinite(true)
        if not known.any():
            raise HarnessError(f"device {device!r} has no measured {metric} to score against")
        out[metric] = {**prediction_scores(pred[known], true[known]), "n": int(known.sum())}
        rows = sample[known[sample]]
        pairs[metric] = {"rows": rows.tolist(), "true": true[rows].tolist(), "pred": pred[rows].tolist()}
    out.update({"queries": oracle.queries, "hw_queries": oracle.hw_queries, "fit_seconds": fit_seconds})
    if sample_size:
        out["sample"] = pairs
    return out


def score_code(gt, code, limits: dict[str, float], data: str | None = None) -> dict:
    """True metrics of a found code and whether it meets the TRUE limits.

    On live/user profiles an unmeasured architecture is measured now (local) or reported as
    `feasible: None, unmeasured: True` (user file), never silently called infeasible."""
    if code is None:
        return {"arch": None, "arch_index": None, "true_accuracy": None, "true_latency": None,
                "true_energy": None, "true_flops": None, "feasible": False}
    row = int(gt.space.index(np.asarray(code).reshape(1, -1))[0])
    values = {"accuracy": float(gt.accuracy[row]), "flops": float(gt.flops[row]), "params": float(gt.params[row]),
              "latency": None if gt.latency is None else float(gt.latency[row]),
              "energy": None if gt.energy is None else float(gt.energy[row])}
    extra = {}
    if values["latency"] is not None and np.isnan(values["latency"]):
        from devices.profiles import get_profile

        if get_profile(gt.device).kind == "local":
            from devices.local import ensure_measured
            from harness.data import load_tables

            values["latency"] = float(ensure_measured(gt.device, load_tables(data), gt.dataset, [row])[0])
            extra["measured_now"] = True
        else:
            extra["unmeasured"] = True
    if extra.get("unmeasured") and any(m in limits for m in ("latency", "energy")):
        feasible = None
    else:
        feasible = all(values[m] is not None and values[m] <= v for m, v in limits.items())
    return {"arch": format_arch(gt.codes[row]), "arch_index": row, "true_accuracy": values["accuracy"],
            "true_latency": values["latency"], "true_energy": values["energy"], "true_flops": values["flops"],
            "feasible": feasible, **extra}


def search_report(method: str, problem: Problem, seed: int = 0, budget: int | None = None,
                  data: str | None = None, **params) -> dict:
    """Run a searcher, then re-score what it found with ground truth (regret vs the exact optimum)."""
    gt = ground_truth(problem.dataset, problem.device, data)
    best = optimum(gt, problem.limits)  # raises a clear error for limits nobody meets
    oracle = Oracle(gt, budget=budget)
    m = make_method(method, seed=seed, **params)
    if not hasattr(m, "search"):
        raise HarnessError(f"method {method!r} is a predictor only; it cannot search")
    t0 = time.perf_counter()
    result = m.search(problem, oracle)
    search_seconds = time.perf_counter() - t0
    scored = score_code(gt, result.code, problem.limits, data)
    regret = None if scored["true_accuracy"] is None else best.accuracy - scored["true_accuracy"]
    measured = int(measured_mask(gt).sum())
    if measured < gt.accuracy.size:  # live/user profiles: the exact optimum is over the measured sample
        scored["optimum_scope"] = f"measured sample of {measured} architectures"
    return {**scored, "optimum_accuracy": best.accuracy, "optimum_arch": best.arch, "regret": regret,
            "queries": oracle.queries, "hw_queries": oracle.hw_queries, "search_seconds": search_seconds,
            "predicted": result.predicted, **{k: v for k, v in result.extra.items() if k not in scored}}
