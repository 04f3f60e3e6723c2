"""`cpsat`: OR-Tools CP-SAT, an integer-only solver, on the same model with exact-safe integer scaling.

Scaling (CP-SAT accepts only integer coefficients):
- Rows whose coefficients and bounds are already integers (one choice per node, Eq. 9 skip rows,
  no-good cuts) are passed unchanged.
- A real row lo <= a.x <= hi is multiplied by S = 2**k, the power of two that brings max|a| to about
  2**COEF_BITS (multiplying by a power of two is exact in floating point), then relaxed outward:
  sum floor(S a_j) x_j <= floor(S hi)  and  sum ceil(S a_j) x_j >= ceil(S lo).
  Because x >= 0 this is implied by the real row, so no feasible code is ever cut off; it may admit a
  code that breaks the real row by at most m / S relative to the largest coefficient. The driver
  re-checks every returned code with the exact float problem and removes such a code with a no-good cut
  before re-solving, so the returned code is feasible and optimal.
- The objective is multiplied by So = 2**k bringing max|c| to about 2**OBJ_BITS and rounded to nearest:
  each code's objective is off by at most m / (2 So) in normalised units, i.e. the optimum is exact to
  about m * 2**-(OBJ_BITS+1) of the largest per-choice value (about 5e-10 * m relative); the reported
  objective is recomputed exactly with `problem.objective`.
- Why not more bits: CP-SAT's LP relaxation works in doubles; with coefficients near 2**40 it returned
  a wrong 'optimal' code (found by hypothesis, kept as a regression test in tests/test_solvers.py).
Ratio objectives: Dinkelbach only (Charnes-Cooper needs the continuous t = 1/den, which CP-SAT lacks;
asking for it returns status `unavailable` with that reason).
"""
from __future__ import annotations

import math
import time

import numpy as np

from solvers.milp import MILPModel, RawResult, run_milp
from core.protocols import SolverBackend
from solvers.problem import ChoiceProblem, Solution

DEFAULT_RATIO = "dinkelbach"
COEF_BITS = 20
OBJ_BITS = 30


def available() -> tuple[bool, str]:
    try:
        from ortools.sat.python import cp_model  # noqa: F401
    except ImportError as e:
        return False, f"ortools is not installed ({e})"
    return True, ""


def _pow2_scale(max_abs: float, bits: int) -> float:
    if max_abs <= 0:
        return 1.0
    return math.ldexp(1.0, bits - math.frexp(max_abs)[1])


def _is_int(v: np.ndarray) -> bool:
    v = v[np.isfinite(v)]
    return bool(np.all(v == np.round(v)) and np.all(np.abs(v) < 2**53))


def scale_row(a: np.ndarray, lo: float, hi: float):
    """Integer (coeffs, lo, hi) relaxing lo <= a.x <= hi for x >= 0 (see module docstring)."""
    bounds = np.array([lo, hi])
    if _is_int(a) and _is_int(bounds):
        ilo = None if not np.isfinite(lo) else int(lo)
        ihi = None if not np.isfinite(hi) else int(hi)
        return [int(v) for v in a], [int(v) for v in a], ilo, ihi
    S = _pow2_scale(float(np.abs(a).max(initial=0.0)), COEF_BITS)
    sa = a * S  # exact: power-of-two scaling
    up = [int(v) for v in np.floor(sa)]    # for the <= side
    dn = [int(v) for v in np.ceil(sa)]     # for the >= side
    ihi = None if not np.isfinite(hi) else int(math.floor(hi * S))
    ilo = None if not np.isfinite(lo) else int(math.ceil(lo * S))
    return up, dn, ilo, ihi


def _raw(model: MILPModel, time_limit: float, hint=None, threads=None, verbose=False) -> RawResult:
    try:
        from ortools.sat.python import cp_model
    except ImportError as e:
        return RawResult("unavailable", reason=f"ortools is not installed ({e})")
    if not model.all_integer:
        return RawResult("unavailable", reason="CP-SAT needs an all-integer model")
    t_build = time.perf_counter()
    cp = cp_model.CpModel()
    z = [cp.NewIntVar(int(math.ceil(model.lb[k])), int(math.floor(model.ub[k])), f"z{k}")
         for k in range(model.num_vars)]
    A = model.A
    for r in range(model.num_rows):
        s, e = A.indptr[r], A.indptr[r + 1]
        idx, a = A.indices[s:e], A.data[s:e]
        if idx.size == 0:
            continue
        up, dn, ilo, ihi = scale_row(a, model.row_lb[r], model.row_ub[r])
        vars_ = [z[k] for k in idx]
        if up == dn and ilo is not None and ihi is not None:
            cp.AddLinearConstraint(cp_model.LinearExpr.WeightedSum(vars_, up), ilo, ihi)
            continue
        if ihi is not None:
            cp.Add(cp_model.LinearExpr.WeightedSum(vars_, up) <= ihi)
        if ilo is not None:
            cp.Add(cp_model.LinearExpr.WeightedSum(vars_, dn) >= ilo)
    So = _pow2_scale(float(np.abs(model.c).max(initial=0.0)), OBJ_BITS)
    ic = np.round(model.c * So).astype(np.int64)
    nz = np.flatnonzero(ic)
    cp.Maximize(cp_model.LinearExpr.WeightedSum([z[k] for k in nz], [int(v) for v in ic[nz]]))
    if hint is not None:
        for v, val in zip(z, model.lift(hint)):
            cp.AddHint(v, int(round(val)))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit - (time.perf_counter() - t_build), 1e-3)
    solver.parameters.log_search_progress = bool(verbose)
    solver.parameters.num_workers = int(threads) if threads else 1
    st = solver.Solve(cp)
    nodes = int(solver.NumBranches())
    has_x = st in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    x = np.array([solver.Value(v) for v in z], dtype=float) if has_x else None
    bound = float(solver.BestObjectiveBound()) / So + model.c0 + model.num_nodes / (2 * So) if has_x else None
    if st == cp_model.OPTIMAL:
        return RawResult("optimal", x, bound, nodes)
    if st == cp_model.INFEASIBLE:
        return RawResult("infeasible", None, None, nodes, "CP-SAT: no code meets every constraint")
    if st in (cp_model.FEASIBLE, cp_model.UNKNOWN):
        return RawResult("time_limit", x, bound, nodes, f"CP-SAT: time limit {time_limit:.3g}s hit")
    return RawResult("error", None, None, nodes, f"CP-SAT: {solver.StatusName(st)} {cp.Validate()}".strip())


def solve_cpsat(problem: ChoiceProblem, time_limit: float | None = 60.0, **options) -> Solution:
    return run_milp(problem, "cpsat", _raw, time_limit, default_ratio=DEFAULT_RATIO,
                    ratio_methods=("dinkelbach",), **options)


backend = SolverBackend("cpsat", solve=solve_cpsat, available=available, description="OR-Tools CP-SAT (integer scaling, exact re-check)")
