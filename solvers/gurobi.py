"""`gurobi`: Gurobi through gurobipy's matrix API.

The pip wheel ships a size-limited licence (2000 variables and 2000 linear constraints); a larger model
comes back as status `unavailable` with Gurobi's own licence message, never as an exception.
"""
from __future__ import annotations

import numpy as np

from solvers.milp import MIP_GAP, MILPModel, RawResult, run_milp
from core.protocols import SolverBackend
from solvers.problem import ChoiceProblem, Solution

DEFAULT_RATIO = "dinkelbach"  # measured faster on the MathNAS NB201 ILPs (see benchmarks/bench_solvers.py)
_ENV = None


def _env():
    """One quiet Gurobi environment per process (starting one checks the licence and costs ~ms)."""
    global _ENV
    if _ENV is None:
        import gurobipy as gp

        _ENV = gp.Env(params={"OutputFlag": 0})
    return _ENV


def available() -> tuple[bool, str]:
    try:
        import gurobipy  # noqa: F401
    except ImportError as e:
        return False, f"gurobipy is not installed ({e})"
    try:
        _env()
    except Exception as e:  # gurobipy.GurobiError: no or expired licence
        return False, f"Gurobi licence problem: {str(e).splitlines()[0]}"
    return True, ""


def _raw(model: MILPModel, time_limit: float, hint=None, threads=None, verbose=False) -> RawResult:
    ok, why = available()
    if not ok:
        return RawResult("unavailable", reason=why)
    import gurobipy as gp
    from gurobipy import GRB

    try:
        with gp.Model(env=_env()) as g:
            g.Params.OutputFlag = 1 if verbose else 0
            g.Params.TimeLimit = max(time_limit, 1e-3)
            g.Params.MIPGap = MIP_GAP
            # Gurobi's default tolerances (1e-6), as every other backend: at 1e-9 its presolve dropped an
            # exactly tight row of a Charnes-Cooper model and returned a worse code as optimal (found by
            # tests/test_solvers.py's hypothesis search). Codes feasible only within tolerance are cut and
            # re-solved by MILPSolve (`repairs`), so answers stay exactly feasible.
            if threads:
                g.Params.Threads = int(threads)
            vtype = np.where(model.integer, GRB.BINARY, GRB.CONTINUOUS)
            vtype[model.integer & ((model.lb != 0) | (model.ub > 1))] = GRB.INTEGER
            z = g.addMVar(model.num_vars, lb=model.lb, ub=model.ub, vtype=vtype)
            eq = np.isfinite(model.row_lb) & (model.row_lb == model.row_ub)
            up = ~eq & np.isfinite(model.row_ub)
            lo = ~eq & np.isfinite(model.row_lb)
            for mask, sense, rhs in ((eq, "=", model.row_lb), (up, "<", model.row_ub), (lo, ">", model.row_lb)):
                if mask.any():
                    g.addMConstr(model.A[mask], z, sense, rhs[mask])
            g.setMObjective(None, model.c, model.c0, sense=GRB.MAXIMIZE)
            if hint is not None:
                z.Start = model.lift(hint)
            g.optimize()
            st, nodes = g.Status, int(g.NodeCount)
            x = np.array(z.X) if g.SolCount > 0 else None
            bound = float(g.ObjBound) if g.SolCount > 0 and st != GRB.INFEASIBLE else None
    except gp.GurobiError as e:
        msg = str(e).splitlines()[0] if str(e) else f"Gurobi error {e.errno}"
        if e.errno in (10009, 10010):  # no licence / model too large for the size-limited licence
            return RawResult("unavailable", reason=f"Gurobi: {msg}")
        return RawResult("error", reason=f"Gurobi error {e.errno}: {msg}")
    if st == GRB.OPTIMAL:
        return RawResult("optimal", x, bound, nodes)
    if st in (GRB.INFEASIBLE, GRB.INF_OR_UNBD):
        return RawResult("infeasible", None, None, nodes, "Gurobi: no code meets every constraint")
    if st == GRB.TIME_LIMIT:
        return RawResult("time_limit", x, bound, nodes, f"Gurobi: time limit {time_limit:.3g}s hit")
    return RawResult("error" if x is None else "feasible", x, bound, nodes, f"Gurobi stopped with status {st}")


def solve_gurobi(problem: ChoiceProblem, time_limit: float | None = 60.0, **options) -> Solution:
    """Ratio objectives default to Dinkelbach, whose models are half the size of Charnes-Cooper's
    (which matters under the size-limited licence) and measured faster on the NB201 ILPs."""
    return run_milp(problem, "gurobi", _raw, time_limit, default_ratio=DEFAULT_RATIO, **options)


backend = SolverBackend("gurobi", solve=solve_gurobi, available=available, description="Gurobi (gurobipy matrix API; pip wheel's size-limited licence)")
