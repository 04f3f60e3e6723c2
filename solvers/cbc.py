"""`cbc`: COIN-OR CBC, the binary bundled with PuLP, run silently through PuLP's modelling API."""
from __future__ import annotations

import time
import warnings

import numpy as np

from solvers.milp import MIP_GAP, MILPModel, RawResult, run_milp
from core.protocols import SolverBackend
from solvers.problem import ChoiceProblem, Solution

DEFAULT_RATIO = "dinkelbach"  # measured faster on the MathNAS NB201 ILPs (see benchmarks/bench_solvers.py)


def _cmd(**kwargs):
    """PuLP's bundled CBC (PULP_CBC_CMD warns that it is deprecated in favour of a separate install)."""
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(**kwargs)


def available() -> tuple[bool, str]:
    try:
        import pulp
    except ImportError as e:
        return False, f"PuLP is not installed ({e})"
    if not _cmd(msg=False).available():
        return False, "PuLP's bundled CBC binary is missing or not executable"
    return True, ""


def _raw(model: MILPModel, time_limit: float, hint=None, threads=None, verbose=False) -> RawResult:
    ok, why = available()
    if not ok:
        return RawResult("unavailable", reason=why)
    import pulp

    t0 = time.perf_counter()
    lp = pulp.LpProblem("choice", pulp.LpMaximize)
    new_var = getattr(lp, "add_variable", None) or pulp.LpVariable  # PuLP >= 3.3 prefers add_variable
    z = []
    for k in range(model.num_vars):
        lo = None if not np.isfinite(model.lb[k]) else float(model.lb[k])
        hi = None if not np.isfinite(model.ub[k]) else float(model.ub[k])
        cat = pulp.LpInteger if model.integer[k] else pulp.LpContinuous
        z.append(new_var(f"z{k}", lo, hi, cat))
    nz = np.flatnonzero(model.c)
    lp += pulp.LpAffineExpression([(z[k], float(model.c[k])) for k in nz], constant=float(model.c0))
    A = model.A
    for r in range(model.num_rows):
        s, e = A.indptr[r], A.indptr[r + 1]
        expr = pulp.LpAffineExpression([(z[k], float(v)) for k, v in zip(A.indices[s:e], A.data[s:e])])
        lo, hi = model.row_lb[r], model.row_ub[r]
        if np.isfinite(lo) and lo == hi:
            lp += expr == float(lo), f"r{r}"
        else:
            if np.isfinite(hi):
                lp += expr <= float(hi), f"r{r}u"
            if np.isfinite(lo):
                lp += expr >= float(lo), f"r{r}l"
    left = time_limit - (time.perf_counter() - t0)   # building the PuLP model counts against the limit
    cmd = _cmd(msg=bool(verbose), timeLimit=max(left, 0.01), gapRel=MIP_GAP,
                            threads=int(threads) if threads else None,
                            options=["allowableGap 1e-10", "increment 1e-10"])
    t_solve = time.perf_counter()
    lp.solve(cmd)
    stopped = time.perf_counter() - t_solve >= 0.98 * max(left, 0.01)
    status, sol = lp.status, lp.sol_status
    x = np.array([v.varValue if v.varValue is not None else 0.0 for v in z])
    if status == pulp.LpStatusOptimal and sol == pulp.LpSolutionOptimal:
        return RawResult("optimal", x)
    if status == pulp.LpStatusOptimal and sol == pulp.LpSolutionIntegerFeasible:
        return RawResult("time_limit", x, reason=f"CBC: time limit {time_limit:.3g}s hit")
    if status == pulp.LpStatusInfeasible and not stopped:
        return RawResult("infeasible", reason="CBC: no code meets every constraint")
    if status == pulp.LpStatusInfeasible:
        return RawResult("time_limit", reason=f"CBC: time limit {time_limit:.3g}s hit (reported infeasible)")
    if status == pulp.LpStatusNotSolved:
        return RawResult("time_limit", reason=f"CBC: time limit {time_limit:.3g}s hit before any code was found")
    return RawResult("error", reason=f"CBC ended with status {pulp.LpStatus.get(status, status)}")


def solve_cbc(problem: ChoiceProblem, time_limit: float | None = 60.0, **options) -> Solution:
    return run_milp(problem, "cbc", _raw, time_limit, default_ratio=DEFAULT_RATIO, **options)


backend = SolverBackend("cbc", solve=solve_cbc, available=available, description="COIN-OR CBC through PuLP")
