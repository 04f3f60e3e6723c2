"""ILP layer: one problem type (`ChoiceProblem`), interchangeable backends, one `solve` entry point."""
from __future__ import annotations

import importlib

from harness.errors import unknown_name
from solvers.problem import STATUSES, ChoiceProblem, Constraint, Solution

# name -> "module:function"; imported lazily so a missing optional solver only matters when used.
BACKENDS: dict[str, str] = {
    "enumerate": "solvers.enumerate:solve_enumerate",
}
DEFAULT_BACKEND = "enumerate"


def get_backend(name: str):
    if name not in BACKENDS:
        raise unknown_name("solver", name, BACKENDS)
    module, func = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), func)


def solve(problem: ChoiceProblem, backend: str = DEFAULT_BACKEND, time_limit: float = 60.0, **options) -> Solution:
    """Solve `problem` with the named backend; never raises for solver trouble, reports it in `status`."""
    return get_backend(backend)(problem, time_limit=time_limit, **options)


__all__ = ["BACKENDS", "STATUSES", "ChoiceProblem", "Constraint", "Solution", "get_backend", "solve"]
