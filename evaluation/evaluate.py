"""Run one method on one problem and score it against exact ground truth (used by the CLI and the runner).

Both entry points build the method from the registry, hand it a budgeted Oracle under the declared
hardware regime, and re-score what it returns with the truth (test split where the benchmark has one).
Every row says which split the method saw and which it was scored on, and, where the space has
per-seed accuracies (optional capability `space.seed_accuracies(dataset) -> (seeds, rows)`), the noise
ceiling of the task: the seed-to-seed Kendall tau (beside a predictor's tau) and the regret of picking
by one seed's accuracy (beside a searcher's regret).
"""
from __future__ import annotations

import itertools
import time

import numpy as np

from core.errors import HarnessError
from core.metrics import kendall_tau, prediction_scores
from core.oracle import Oracle
from core.protocols import Problem, make_method
from core.sources import Sources
from devices import get_profile
from evaluation.groundtruth import ground_truth, metric_info, optimum, raw_metric

PREDICTED_METRICS = ("accuracy", "latency", "energy")


def make_oracle(gt, budget=None, regime: str = "free", hw_budget=None, hw_cost: float = 0.0) -> Oracle:
    return Oracle(gt, budget=budget, hw_budget=hw_budget, regime=regime, hw_cost=hw_cost)


def splits(gt) -> dict:
    """Which split the methods saw (the Oracle's) and which everything is scored on."""
    task = gt.task
    return {"search_split": task.search_split if task else "test", "score_split": task.score_split if task else "test"}


_SEEDS: dict = {}


def seed_accuracies(gt) -> np.ndarray | None:
    """(seeds, rows) per-seed accuracies of the task, oriented like the truth, or None (no seeds, or one)."""
    key = (id(gt.space), gt.dataset)
    if key not in _SEEDS:
        fn = getattr(gt.space, "seed_accuracies", None)
        values = None
        if callable(fn):
            values = fn(gt.dataset)
            if values is not None:
                values = np.asarray(values, dtype=np.float64)
                if values.ndim != 2 or values.shape[1] != gt.size:
                    raise HarnessError(f"space {gt.space.name!r}: seed_accuracies({gt.dataset!r}) has shape "
                                       f"{values.shape}, expected (seeds, {gt.size})")
                if values.shape[0] < 2:
                    values = None
        _SEEDS[key] = values
    return _SEEDS[key]


def seed_tau(gt) -> dict | None:
    """Mean Kendall tau between the per-seed accuracies of every pair of seeds (finite rows only): the
    ranking a predictor could reach if it knew one training run exactly."""
    values = seed_accuracies(gt)
    if values is None:
        return None
    taus = []
    for a, b in itertools.combinations(range(values.shape[0]), 2):
        ok = np.isfinite(values[a]) & np.isfinite(values[b])
        taus.append(kendall_tau(values[a][ok], values[b][ok]))
    return {"seed_tau": float(np.mean(taus)), "seeds": int(values.shape[0])}


def seed_regret(gt, limits: dict, best_accuracy: float) -> dict | None:
    """Regret (on the score split) of the feasible architecture that is best by ONE seed's accuracy, averaged
    over seeds: what a searcher that evaluated every architecture once would typically lose to seed noise."""
    values = seed_accuracies(gt)
    if values is None:
        return None
    mask = gt.feasible_mask(limits)
    regrets = []
    for v in values:
        ok = mask & np.isfinite(v)
        if ok.any():
            regrets.append(best_accuracy - float(gt.accuracy[int(np.argmax(np.where(ok, v, -np.inf)))]))
    return {"seed_regret": float(np.mean(regrets)), "seeds": int(values.shape[0])} if regrets else None


def predict_report(method: str, dataset: str, device: str, seed: int = 0, budget: int | None = None,
                   data=None, sample_size: int = 0, space: str = "nb201", regime: str = "free",
                   hw_budget: int | None = None, hw_cost: float = 0.0, entry: str | None = None, **params) -> dict:
    """Fit a predictor through a budgeted oracle, predict every row of the space, score each metric.

    Scores use every row whose truth is known (live/user devices: the measured rows, counted in `n`) and, on
    tasks that split rows (hardware-only spaces), only the score split's rows (`split` names it).
    With `sample_size`, a seeded sample of (true, predicted) pairs is kept for scatter plots."""
    gt = ground_truth(dataset, device, data, space=space)
    m = make_method(method, seed=seed, entry=entry, **params)
    if not (callable(getattr(m, "fit", None)) and callable(getattr(m, "predict", None))):
        raise HarnessError(f"method {method!r} is a searcher only; it has no predictions to score")
    oracle = make_oracle(gt, budget, regime, hw_budget, hw_cost)
    t0 = time.perf_counter()
    m.fit(oracle)
    fit_seconds = time.perf_counter() - t0
    predictions = m.predict(gt.codes)
    sample = np.sort(np.random.default_rng(seed).permutation(gt.size)[:sample_size])
    pairs: dict = {"rows": sample.tolist()}
    out: dict = {}
    for metric in PREDICTED_METRICS:
        if metric not in predictions or not gt.has(metric):
            out[metric] = None
            continue
        pred, true = np.asarray(predictions[metric], dtype=np.float64), gt.metric(metric)
        if pred.shape != true.shape:
            raise HarnessError(f"method {method!r} predicted {pred.shape[0]} {metric} values for {true.shape[0]} rows")
        known = np.isfinite(true) & gt.scored_mask()
        if not known.any():
            raise HarnessError(f"device {device!r} has no measured {metric} to score against")
        out[metric] = {**prediction_scores(pred[known], true[known]), "n": int(known.sum())}
        if gt.score_rows is not None:
            out[metric]["split"] = gt.task.score_split
        rows = sample[known[sample]]
        pairs[metric] = {"rows": rows.tolist(), "true": true[rows].tolist(), "pred": pred[rows].tolist()}
    out.update({"queries": oracle.queries, "hw_queries": oracle.hw_queries, "fit_seconds": fit_seconds,
                "regime": oracle.regime, "device_live": gt.device_live, **splits(gt)})
    noise = seed_tau(gt) if gt.accuracy is not None else None
    if noise:
        out["noise"] = noise
    deviations = getattr(m, "deviations", None)
    if callable(deviations) and deviations():
        out["deviations"] = list(deviations())
    if sample_size:
        out["sample"] = pairs
    return out


def _true_values(gt, row: int) -> dict:
    return {m: None if getattr(gt, m) is None else float(getattr(gt, m)[row])
            for m in ("accuracy", "latency", "energy", "flops", "params")}


def score_code(gt, code, limits: dict[str, float], data=None) -> dict:
    """True metrics of a found code and whether it meets the TRUE limits. `true_accuracy` is oriented (higher is
    better); `true_metric` is the task's metric as published (e.g. TransNAS room_layout's L2 loss).

    On live profiles an unmeasured architecture is measured now; on user files it is reported as
    `feasible: None, unmeasured: True`, never silently called infeasible."""
    if code is None:
        return {"arch": None, "arch_index": None, "true_accuracy": None, "true_latency": None,
                "true_energy": None, "true_flops": None, "feasible": False, "true_metric": None}
    row = int(gt.space.index(np.asarray(code).reshape(1, -1))[0])
    values = _true_values(gt, row)
    extra = {}
    if values["latency"] is not None and np.isnan(values["latency"]):
        sources = gt.sources if data is None and gt.sources is not None else Sources.of(data)
        profile = get_profile(gt.device, sources)
        if profile.live:
            values["latency"] = float(profile.measure(gt.space, gt.dataset, [row], sources)[0])
            extra["measured_now"] = True
        else:
            extra["unmeasured"] = True
    if extra.get("unmeasured") and any(m in limits for m in ("latency", "energy")):
        feasible = None
    else:
        feasible = all(values[m] is not None and values[m] <= v for m, v in limits.items())
    return {"arch": gt.space.decode(gt.codes[row]), "arch_index": row, "true_accuracy": values["accuracy"],
            "true_latency": values["latency"], "true_energy": values["energy"], "true_flops": values["flops"],
            "feasible": feasible, "true_metric": raw_metric(gt, values["accuracy"]), **extra}


def trajectory(gt, oracle: Oracle, limits: dict[str, float], final_row: int | None) -> list[dict]:
    """One entry per new evaluation: what was spent and the searcher's incumbent then, re-scored by truth.

    The incumbent is what the searcher reported through `oracle.incumbent` (its own notion of best), so a
    method gets no credit for an architecture it evaluated but did not pick; the final answer closes it."""
    marks = list(oracle.incumbents)
    if final_row is not None and (not marks or marks[-1]["row"] != final_row):
        marks.append({"evaluations": oracle.queries, "hw_queries": oracle.hw_queries, "row": final_row})
    feasible = gt.feasible_mask(limits)
    out, j, current = [], 0, None
    for k in range(1, oracle.queries + 1):
        while j < len(marks) and marks[j]["evaluations"] <= k:
            current = marks[j]["row"]
            j += 1
        entry = {"evaluations": k, "hw_queries": oracle.hw_at_eval[k - 1] if k <= len(oracle.hw_at_eval) else None,
                 "arch_index": current, "true_accuracy": None, "feasible": None}
        if current is not None:
            entry.update(true_accuracy=float(gt.accuracy[current]), feasible=bool(feasible[current]))
        out.append(entry)
    if not out and current is None and marks:   # an answer with no evaluation at all
        r = marks[-1]["row"]
        out.append({"evaluations": 0, "hw_queries": oracle.hw_queries, "arch_index": r,
                    "true_accuracy": float(gt.accuracy[r]), "feasible": bool(feasible[r])})
    return out


def search_report(method: str, problem: Problem, seed: int = 0, budget: int | None = None, data=None,
                  regime: str = "free", hw_budget: int | None = None, hw_cost: float = 0.0,
                  entry: str | None = None, **params) -> dict:
    """Run a searcher, then re-score what it found with ground truth (regret vs the exact optimum)."""
    gt = ground_truth(problem.dataset, problem.device, data, space=problem.space)
    if gt.accuracy is None:
        raise HarnessError(f"search maximises accuracy, and {problem.space}/{problem.dataset} has none (hardware "
                           f"costs only): use predict, optimum or devices additivity there")
    best = optimum(gt, problem.limits)  # raises a clear error for limits nobody meets
    m = make_method(method, seed=seed, entry=entry, **params)
    if not callable(getattr(m, "search", None)):
        raise HarnessError(f"method {method!r} is a predictor only; it cannot search")
    oracle = make_oracle(gt, budget, regime, hw_budget, hw_cost)
    t0 = time.perf_counter()
    result = m.search(problem, oracle)
    search_seconds = time.perf_counter() - t0
    scored = score_code(gt, result.code, problem.limits, data)
    regret = None if scored["true_accuracy"] is None else best.accuracy - scored["true_accuracy"]
    measured = int(gt.measured_mask().sum())
    if measured < gt.size:  # live/user profiles: the exact optimum is over the measured sample
        scored["optimum_scope"] = f"measured sample of {measured} architectures"
    floor = float(np.min(gt.accuracy[gt.feasible_mask(problem.limits)]))
    out = {**scored, "optimum_accuracy": best.accuracy, "optimum_arch": best.arch, "regret": regret,
           "optimum_metric": raw_metric(gt, best.accuracy), **metric_info(gt),
           "floor_accuracy": floor, "queries": oracle.queries, "hw_queries": oracle.hw_queries,
           "search_seconds": search_seconds, "regime": oracle.regime, "device_live": gt.device_live,
           "predicted": result.predicted, "trajectory": trajectory(gt, oracle, problem.limits, scored["arch_index"]),
           **splits(gt), **{k: v for k, v in result.extra.items() if k not in scored}}
    noise = seed_regret(gt, problem.limits, best.accuracy)
    if noise:
        out["noise"] = noise
    deviations = getattr(m, "deviations", None)
    if callable(deviations) and deviations():
        out["deviations"] = list(deviations())
    return out
