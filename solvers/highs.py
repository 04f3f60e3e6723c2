"""`highs`: HiGHS through `scipy.optimize.milp` (no console banner, no extra dependency)."""
from __future__ import annotations

import contextlib

import numpy as np

from solvers.milp import MIP_GAP, MILPModel, RawResult, quiet_stdout, run_milp
from core.protocols import SolverBackend
from solvers.problem import ChoiceProblem, Solution

DEFAULT_RATIO = "dinkelbach"  # measured faster on the MathNAS NB201 ILPs (see benchmarks/bench_solvers.py)


def available() -> tuple[bool, str]:
    try:
        from scipy.optimize import milp  # noqa: F401
    except ImportError as e:  # pragma: no cover - scipy is a hard dependency
        return False, f"scipy.optimize.milp not importable: {e}"
    return True, ""


def _raw(model: MILPModel, time_limit: float, hint=None, threads=None, verbose=False) -> RawResult:
    from scipy.optimize import Bounds, LinearConstraint, milp

    with contextlib.nullcontext() if verbose else quiet_stdout():  # HiGHS inside scipy sometimes prints debug lines straight to fd 1
        res = milp(-model.c, integrality=model.integer.astype(np.int8), bounds=Bounds(model.lb, model.ub),
                   constraints=LinearConstraint(model.A, model.row_lb, model.row_ub),
                   options={"time_limit": max(time_limit, 1e-3), "mip_rel_gap": MIP_GAP, "disp": bool(verbose)})
    nodes = getattr(res, "mip_node_count", None)
    dual = getattr(res, "mip_dual_bound", None)
    bound = None if dual is None or not np.isfinite(dual) else -float(dual) + model.c0
    if res.status == 0:
        return RawResult("optimal", res.x, bound, nodes)
    if res.status == 2:
        return RawResult("infeasible", None, None, nodes, "HiGHS: no code meets every constraint")
    if res.status == 1:
        return RawResult("time_limit", res.x, bound, nodes, f"HiGHS: {res.message}")
    return RawResult("error", res.x, bound, nodes, f"HiGHS: {res.message}")


def solve_highs(problem: ChoiceProblem, time_limit: float | None = 60.0, **options) -> Solution:
    return run_milp(problem, "highs", _raw, time_limit, default_ratio=DEFAULT_RATIO, **options)


backend = SolverBackend("highs", solve=solve_highs, available=available, description="HiGHS through scipy.optimize.milp")
