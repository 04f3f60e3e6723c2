"""ILP layer: one problem type (`ChoiceProblem`), interchangeable backends, one `solve` entry point.

Backends (all exact, all honour `time_limit`, all return a `Solution` whose objective is recomputed
from the problem itself): enumerate, gurobi, cbc, cpsat, scip, highs, bnb. MILP backends take
`ratio="charnes-cooper" | "dinkelbach"` for ratio objectives (cpsat: dinkelbach only).
"""
from __future__ import annotations

import importlib

from harness.errors import unknown_name
from solvers.problem import STATUSES, ChoiceProblem, Constraint, Solution

# name -> "module:function"; imported lazily so a missing optional solver only matters when used.
BACKENDS: dict[str, str] = {
    "enumerate": "solvers.enumerate:solve_enumerate",
    "gurobi": "solvers.gurobi:solve_gurobi",
    "cbc": "solvers.cbc:solve_cbc",
    "cpsat": "solvers.cpsat:solve_cpsat",
    "scip": "solvers.scip:solve_scip",
    "highs": "solvers.highs:solve_highs",
    "bnb": "solvers.bnb:solve_bnb",
}
DEFAULT_BACKEND = "enumerate"
MILP_BACKENDS = ("gurobi", "cbc", "cpsat", "scip", "highs", "bnb")


def get_backend(name: str):
    if name not in BACKENDS:
        raise unknown_name("solver", name, BACKENDS)
    module, func = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), func)


def backend_status(name: str) -> tuple[bool, str]:
    """(available, one-line reason when not) for a registered backend."""
    if name not in BACKENDS:
        raise unknown_name("solver", name, BACKENDS)
    module = importlib.import_module(BACKENDS[name].split(":")[0])
    check = getattr(module, "available", None)
    return (True, "") if check is None else check()


def available_backends() -> list[str]:
    """Registered backends whose solver is installed and licensed, in registry order."""
    return [name for name in BACKENDS if backend_status(name)[0]]


def solve(problem: ChoiceProblem, backend: str = DEFAULT_BACKEND, time_limit: float = 60.0, **options) -> Solution:
    """Solve `problem` with the named backend; never raises for solver trouble, reports it in `status`."""
    return get_backend(backend)(problem, time_limit=time_limit, **options)


__all__ = ["BACKENDS", "DEFAULT_BACKEND", "MILP_BACKENDS", "STATUSES", "ChoiceProblem", "Constraint", "Solution",
           "available_backends", "backend_status", "get_backend", "solve"]
