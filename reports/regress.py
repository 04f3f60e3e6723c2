"""`mathnas-bench regress RESULTS_DIR --baseline FILE [--update]`: the regression gate of `tox -e bench`.

Each metric of the run (means over seeds, from the result store only) is compared with the committed
baseline. Quality may not drop beyond a tolerance (Kendall tau, regret, feasibility, solver agreement,
regret at equal budgets and average ranks across tasks, per hardware regime); time may not grow beyond a
generous factor (machines differ). A baseline metric the run lacks, and any failed cell, is a regression too.
The gate refuses to pass on a baseline it cannot compare: NaN values or tolerances, or a baseline of
another suite (the suites' sha256 recorded in the store differ, or too few metrics are shared), which it
says in one line instead of listing every metric. `--update` rewrites the baseline from this run, on purpose.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import HarnessError
from core.files import atomic_write_bytes
from harness.store import ResultStore
from reports import anytime
from reports.stats import rank_methods
from reports.tables import _search_frame, by_regime, dataset_key, method_name, ok_rows, solver_records

BASELINE_VERSION = 1
SHARED_AT_LEAST = 0.5    # a baseline sharing fewer of its metrics with the run is of another suite
# kind -> (direction, tolerance). "higher": may drop by at most tol; "lower": may rise by at most tol;
# "time": may grow to factor x baseline + slack seconds.
TOLERANCES = {
    "tau": {"direction": "higher", "tol": 0.03},
    "regret": {"direction": "lower", "tol": 0.5},          # accuracy points
    "feasibility": {"direction": "higher", "tol": 0.05},   # share of results
    "agreement": {"direction": "higher", "tol": 0.0},      # solvers must keep agreeing with enumeration
    "time": {"direction": "time", "factor": 5.0, "slack": 2.0},
    "rank": {"direction": "lower", "tol": 0.75},            # average rank across tasks (1 = best)
}


@dataclass
class Outcome:
    ok: bool
    lines: list[str] = field(default_factory=list)


def _mean(x) -> float:
    x = pd.to_numeric(pd.Series(x), errors="coerce").dropna()
    return float(x.mean()) if len(x) else float("nan")


def run_metrics(frame: pd.DataFrame) -> dict[str, dict]:
    """metric name -> {"value", "kind"}: the numbers the gate compares (means over seeds).

    Quality on live-measured devices (local-cpu) is left out: it depends on the machine."""
    out: dict[str, dict] = {}
    if "device_live" in frame.columns:
        frame = frame[~frame["device_live"].astype("boolean").fillna(False).astype(bool)]

    def put(name, value, kind):
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            out[name] = {"value": round(float(value), 6), "kind": kind}

    pred = ok_rows(frame, "predict")
    if not pred.empty:
        pred = pred.assign(_m=method_name(pred), _ds=dataset_key(pred))
        for (m, ds, dev), g in pred.groupby(["_m", "_ds", "device"]):
            for metric in ("accuracy", "latency", "energy"):
                col = f"{metric}.kendall_tau"
                if col in g:
                    put(f"predict/{m}/{ds}/{dev}/{metric}_tau", _mean(g[col]), "tau")
            put(f"time/predict/{m}/{ds}/{dev}", g["fit_seconds"].sum(), "time")
    for regime, search, _ in by_regime(_search_frame(frame)):
        at = "" if regime == "free" else f"@{regime}"
        search = search.assign(_m=method_name(search), _ds=dataset_key(search))
        for (m, ds, dev), g in search.groupby(["_m", "_ds", "device"]):
            put(f"search{at}/{m}/{ds}/{dev}/regret", _mean(g["regret_feasible"]), "regret")
            put(f"search{at}/{m}/{ds}/{dev}/feasible", _mean(g["feasible_rate"]), "feasibility")
            put(f"time/search{at}/{m}/{ds}/{dev}", g["search_seconds"].sum(), "time")
    r = anytime.runs(frame)
    values = anytime.at_budgets(frame, anytime.planned_budgets(r), r=r)
    if not values.empty:
        values = values.assign(_ds=dataset_key(values))
        for (regime, m, b, ds), g in values.groupby(["regime", "label", "budget", "_ds"]):
            put(f"anytime/{regime}/{m}/@{b}/{ds}/regret", _mean(g["regret"]), "regret")
            put(f"anytime/{regime}/{m}/@{b}/{ds}/feasible", _mean(g["feasible"].astype(float)), "feasibility")
        for (regime, b), (tasks, _) in anytime.task_values(values).items():
            if tasks["method"].nunique() >= 2 and tasks["task"].nunique() >= 2:
                ranks = rank_methods(tasks, higher_is_better=False)
                for m, avg in ranks.average.items():
                    put(f"rank/{regime}/@{b}/{m}", avg, "rank")
    recs = solver_records(frame)
    if not recs.empty:
        for (b, fam), g in recs.groupby(["backend", "family"]):
            # correctness, not speed: of the answers a backend claims (optimal / infeasible), the share that
            # match the reference; hitting a time limit is a time matter, gated by the time metric
            proven = g[g["status"].isin(["optimal", "infeasible"])]
            if len(proven):
                put(f"solvers/{b}/{fam}/agreement", proven["agree_all"].mean(), "agreement")
            put(f"time/solvers/{b}/{fam}", g["seconds"].sum(), "time")
    return out


def _compare(name: str, base: dict, run: dict | None, tolerances: dict) -> str | None:
    """A readable line when `run` is worse than `base` beyond its tolerance, else None."""
    if run is None:
        return f"{name}: missing from this run (baseline {base['value']:.4g})"
    t = tolerances.get(base["kind"], TOLERANCES.get(base["kind"]))
    b, r = base["value"], run["value"]
    if t["direction"] == "higher" and r < b - t["tol"] - 1e-12:
        return f"{name}: {base['kind']} {b:.4g} -> {r:.4g} (dropped {b - r:.4g} > tolerance {t['tol']:g})"
    if t["direction"] == "lower" and r > b + t["tol"] + 1e-12:
        return f"{name}: {base['kind']} {b:.4g} -> {r:.4g} (rose {r - b:.4g} > tolerance {t['tol']:g})"
    if t["direction"] == "time" and r > t["factor"] * b + t["slack"]:
        return f"{name}: time {b:.3g}s -> {r:.3g}s (more than {t['factor']:g}x + {t['slack']:g}s)"
    return None


def _dump(doc: dict) -> str:
    """JSON with one metric per line (readable diffs when the baseline is updated)."""
    head = {k: v for k, v in doc.items() if k != "metrics"}
    lines = [json.dumps(head, indent=1)[:-2] + ",", ' "metrics": {']
    items = list(doc["metrics"].items())
    for i, (k, v) in enumerate(items):
        lines.append(f"  {json.dumps(k)}: {json.dumps(v)}" + ("," if i < len(items) - 1 else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def load_baseline(path: Path) -> dict:
    """A baseline that can be compared, or one error line saying why not (NaN values or tolerances included)."""
    if not path.is_file():
        raise HarnessError(f"{path}: no baseline file (create it with `mathnas-bench regress RESULTS --baseline "
                           f"{path} --update`)")
    try:
        base = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HarnessError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(base, dict) or base.get("version") != BASELINE_VERSION or not isinstance(base.get("metrics"), dict):
        raise HarnessError(f"{path}: not a baseline of version {BASELINE_VERSION} (expected keys version, metrics)")
    for name, m in base["metrics"].items():
        if not isinstance(m, dict) or m.get("kind") not in TOLERANCES or not isinstance(m.get("value"), (int, float)):
            raise HarnessError(f"{path}: metrics[{name!r}] must be {{'value': number, 'kind': one of "
                               f"{', '.join(TOLERANCES)}}}")
    bad = [n for n, m in base["metrics"].items() if not _finite(m["value"])]
    if bad:
        raise HarnessError(f"{path}: {len(bad)} baseline value(s) are not finite numbers (e.g. {bad[0]!r} = "
                           f"{base['metrics'][bad[0]]['value']}); nothing can be compared with them: regenerate the "
                           f"baseline with --update")
    tolerances = base.get("tolerances", {})
    if not isinstance(tolerances, dict):
        raise HarnessError(f"{path}: tolerances must be a table of kind -> settings")
    for kind, t in tolerances.items():
        numbers = {k: v for k, v in (t.items() if isinstance(t, dict) else []) if k != "direction"}
        if not isinstance(t, dict) or not numbers or not all(_finite(v) for v in numbers.values()):
            raise HarnessError(f"{path}: tolerances[{kind!r}] = {t!r}: every tolerance must be a finite number")
    return base


def _suite_of(store: ResultStore) -> list[dict]:
    return [{"suite": p.get("suite"), "suite_sha256": p.get("suite_sha256")} for p in store.protocols()]


def _other_suite(base: dict, suites: list[dict], metrics: dict) -> str | None:
    """Why the baseline cannot be compared with this run (another suite), else None."""
    sha = base.get("suite_sha256")
    if sha and suites and sha not in {s["suite_sha256"] for s in suites}:
        ran = ", ".join(f"{s['suite']} (sha256 {str(s['suite_sha256'])[:12]})" for s in suites)
        return (f"the suites differ: the baseline is of suite {base.get('suite')!r} (sha256 {sha[:12]}), this store "
                f"holds {ran}; run the baseline's suite, or take a new baseline with --update")
    shared = len(set(base["metrics"]) & set(metrics))
    if shared < SHARED_AT_LEAST * len(base["metrics"]):
        return (f"the suites differ: the run has only {shared} of the baseline's {len(base['metrics'])} metrics "
                f"(baseline of suite {base.get('suite') or base.get('source')!r}); run the baseline's suite, or take "
                f"a new baseline with --update")
    return None


def regress(results: str | Path, baseline: str | Path, update: bool = False) -> Outcome:
    store = ResultStore(results)
    frame = store.read()
    metrics = run_metrics(frame)
    failed = frame[frame["status"] != "ok"] if "status" in frame else frame.iloc[0:0]
    path = Path(baseline)
    if update:
        if not metrics:
            raise HarnessError(f"{results}: no finished cells to take a baseline from")
        old_tol = {}
        if path.is_file():
            try:
                old_tol = json.loads(path.read_text()).get("tolerances", {})
            except (json.JSONDecodeError, AttributeError):
                old_tol = {}
        suites = _suite_of(store)
        doc = {"version": BASELINE_VERSION, "source": str(Path(results).name),
               "suite": suites[-1]["suite"] if len(suites) == 1 else None,
               "suite_sha256": suites[-1]["suite_sha256"] if len(suites) == 1 else None,
               "cells": int(len(frame)), "tolerances": {**TOLERANCES, **old_tol},
               "metrics": dict(sorted(metrics.items()))}
        atomic_write_bytes(path, _dump(doc).encode())
        lines = [f"baseline {path} rewritten: {len(metrics)} metrics from {len(frame)} cells"]
        if len(failed):
            lines.append(f"warning: {len(failed)} failed cells are not in the baseline")
        return Outcome(True, lines)
    base = load_baseline(path)
    tolerances = {**TOLERANCES, **base.get("tolerances", {})}
    other = _other_suite(base, _suite_of(store), metrics)
    if other:
        return Outcome(False, [f"REGRESSION: cannot compare with {path}: {other}"])
    problems = []
    for name, b in base["metrics"].items():
        line = _compare(name, b, metrics.get(name), tolerances)
        if line:
            problems.append(line)
    for _, r in failed.sort_values("cell").iterrows():
        what = " ".join(str(r.get(c)) for c in ("task", "label", "backend", "family", "dataset", "device", "limit_label",
                                                "seed") if c in r and isinstance(r.get(c), (str, int, float, np.integer))
                        and not (isinstance(r.get(c), float) and math.isnan(r.get(c))))
        problems.append(f"failed cell: {what}: {r.get('error')}")
    new = sorted(set(metrics) - set(base["metrics"]))
    quality = [p for p in problems if not p.startswith("time/")]
    lines = []
    if problems:
        lines.append(f"REGRESSION: {len(problems)} problem(s) against {path} "
                     f"({len(quality)} quality/coverage, {len(problems) - len(quality)} time):")
        lines += [f"  {p}" for p in problems]
    else:
        lines.append(f"ok: {len(base['metrics'])} metrics within tolerance of {path}")
    if new:
        lines.append(f"note: {len(new)} metric(s) not in the baseline (run with --update to add them), e.g. {new[0]}")
    return Outcome(not problems, lines)
