"""ILP layer: one problem type (`ChoiceProblem`), interchangeable backends, one `solve` entry point.

Backends are registered by entry points (group mathnas_bench.solvers: a core.protocols.SolverBackend):
enumerate, gurobi, cbc, cpsat, scip, highs, bnb. All are exact, honour `time_limit` and return a
`Solution` whose objective is recomputed from the problem itself. MILP backends take
`ratio="charnes-cooper" | "dinkelbach"` for ratio objectives (cpsat: dinkelbach only). The default backend
for a problem is the first available one in core.registry.SOLVER_PREFERENCE that suits it.
"""
from __future__ import annotations

import time

from core.errors import HarnessError, one_line
from core.protocols import SolverBackend
from core.registry import SOLVERS
from solvers.problem import STATUSES, ChoiceProblem, Constraint, Solution


def backend_names() -> list[str]:
    """Registered backends in preference order."""
    return SOLVERS.names()


def get_backend(name: str) -> SolverBackend:
    b = SOLVERS.get(name)
    if not isinstance(b, SolverBackend):
        raise HarnessError(f"solver entry point {name!r} gave {type(b).__name__}, not a SolverBackend")
    return b


def backend_status(name: str) -> tuple[bool, str]:
    """(available, one-line reason when not) for a registered backend."""
    return get_backend(name).available()


def available_backends() -> list[str]:
    """Registered backends whose solver is installed and licensed, in preference order."""
    return [name for name in backend_names() if backend_status(name)[0]]


def default_backend(problem: ChoiceProblem | None = None) -> str:
    """The first available backend in the preference order that suits `problem`."""
    for name in backend_names():
        b = get_backend(name)
        if b.available()[0] and (problem is None or b.suits(problem)):
            return name
    raise HarnessError("no ILP backend is available (install scipy for HiGHS, or pulp, ortools, gurobipy)")


def solve(problem: ChoiceProblem, backend: str | None = None, time_limit: float = 60.0, **options) -> Solution:
    """Solve `problem` with the named backend (default: `default_backend`); never raises for solver trouble,
    reports it in `status` (a backend that crashes gives status "error" with its message)."""
    name = backend or default_backend(problem)
    b = get_backend(name)
    t0 = time.perf_counter()
    try:
        return b.solve(problem, time_limit=time_limit, **options)
    except HarnessError:
        raise
    except Exception as e:  # noqa: BLE001 - a third-party backend's crash is a status, not a traceback
        return Solution(None, None, "error", time.perf_counter() - t0, name,
                        reason=one_line(f"{type(e).__name__}: {e}", 500))


__all__ = ["STATUSES", "ChoiceProblem", "Constraint", "Solution", "available_backends", "backend_names",
           "backend_status", "default_backend", "get_backend", "solve"]
