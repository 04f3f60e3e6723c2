"""`scip`: SCIP through OR-Tools' `pywraplp` (bundled with the ortools wheel)."""
from __future__ import annotations

import time

import numpy as np

from solvers.milp import MIP_GAP, MILPModel, RawResult, run_milp
from core.protocols import SolverBackend
from solvers.problem import ChoiceProblem, Solution

DEFAULT_RATIO = "dinkelbach"  # measured faster on the MathNAS NB201 ILPs (see benchmarks/bench_solvers.py)


def _new_solver():
    from ortools.linear_solver import pywraplp

    return pywraplp.Solver.CreateSolver("SCIP")


def available() -> tuple[bool, str]:
    try:
        s = _new_solver()
    except ImportError as e:
        return False, f"ortools is not installed ({e})"
    if s is None:
        return False, "this ortools build has no SCIP"
    return True, ""


def _raw(model: MILPModel, time_limit: float, hint=None, threads=None, verbose=False) -> RawResult:
    try:
        from ortools.linear_solver import pywraplp
    except ImportError as e:
        return RawResult("unavailable", reason=f"ortools is not installed ({e})")
    t_build = time.perf_counter()
    s = pywraplp.Solver.CreateSolver("SCIP")
    if s is None:
        return RawResult("unavailable", reason="this ortools build has no SCIP")
    if verbose:
        s.EnableOutput()
    inf = s.infinity()

    def fin(v):
        return float(v) if np.isfinite(v) else (inf if v > 0 else -inf)

    z = [s.IntVar(fin(model.lb[k]), fin(model.ub[k]), f"z{k}") if model.integer[k]
         else s.NumVar(fin(model.lb[k]), fin(model.ub[k]), f"z{k}") for k in range(model.num_vars)]
    A = model.A
    for r in range(model.num_rows):
        row = s.RowConstraint(fin(model.row_lb[r]), fin(model.row_ub[r]), "")
        for k, v in zip(A.indices[A.indptr[r]:A.indptr[r + 1]], A.data[A.indptr[r]:A.indptr[r + 1]]):
            row.SetCoefficient(z[k], float(v))
    obj = s.Objective()
    for k in np.flatnonzero(model.c):
        obj.SetCoefficient(z[k], float(model.c[k]))
    obj.SetOffset(float(model.c0))
    obj.SetMaximization()
    if hint is not None:
        s.SetHint(z, [float(v) for v in model.lift(hint)])
    s.SetSolverSpecificParametersAsString(f"limits/gap = {MIP_GAP}\nnumerics/feastol = 1e-9\n")
    left = time_limit - (time.perf_counter() - t_build)   # building the model counts against the limit
    s.SetTimeLimit(max(1, int(left * 1000)))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, MIP_GAP)
    t0 = time.perf_counter()
    st = s.Solve(params)
    hit_time = time.perf_counter() - t0 >= 0.98 * left
    nodes = int(s.nodes())
    has_x = st in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE)
    x = np.array([v.solution_value() for v in z]) if has_x else None
    bound = float(obj.BestBound()) if has_x else None
    if st == pywraplp.Solver.OPTIMAL:
        return RawResult("optimal", x, bound, nodes)
    if st == pywraplp.Solver.INFEASIBLE:
        return RawResult("infeasible", None, None, nodes, "SCIP: no code meets every constraint")
    if hit_time:
        return RawResult("time_limit", x, bound, nodes, f"SCIP: time limit {time_limit:.3g}s hit")
    return RawResult("feasible" if has_x else "error", x, bound, nodes, f"SCIP stopped with status {st}")


def solve_scip(problem: ChoiceProblem, time_limit: float | None = 60.0, **options) -> Solution:
    return run_milp(problem, "scip", _raw, time_limit, default_ratio=DEFAULT_RATIO, **options)


backend = SolverBackend("scip", solve=solve_scip, available=available, description="SCIP through OR-Tools' linear solver")
