"""ILP layer: one problem type (`ChoiceProblem`), interchangeable backends, one `solve` entry point.

Backends are registered by entry points (group mathnas_bench.solvers: a core.protocols.SolverBackend):
enumerate, gurobi, cbc, cpsat, scip, highs, bnb. All are exact, honour `time_limit` and return a
`Solution` whose objective is recomputed from the problem itself. MILP backends take
`ratio="charnes-cooper" | "dinkelbach"` for ratio objectives (cpsat: dinkelbach only). The default backend
for a problem is the first available one in core.registry.SOLVER_PREFERENCE that suits it.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

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


MAX_CUTS = 1000


def solve(problem: ChoiceProblem, backend: str | None = None, time_limit: float = 60.0, valid=None,
          **options) -> Solution:
    """Solve `problem` with the named backend (default: `default_backend`); never raises for solver trouble,
    reports it in `status` (a backend that crashes gives status "error" with its message).

    `valid(codes) -> bool array` (a space's codes that have a row, core.protocols.Space): an invalid pick is
    cut off by a no-good constraint (not all of its choices again) and the problem re-solved, at most
    MAX_CUTS times; `extra["cuts"]` counts the cuts and `seconds` covers every solve."""
    name = backend or default_backend(problem)
    sol = _solve_once(problem, name, time_limit, options)
    if valid is None:
        return sol
    cuts, seconds = 0, sol.seconds
    while sol.code is not None and not bool(np.asarray(valid(np.asarray(sol.code).reshape(1, -1)))[0]):
        if cuts == MAX_CUTS:
            return Solution(None, None, "error", seconds, name, reason=f"{cuts} picks without a row cut off; gave up")
        code = np.asarray(sol.code, dtype=np.int64).reshape(-1)
        cut = Constraint(f"not {code.tolist()}", tuple((np.arange(n) == c).astype(np.float64)
                                                        for n, c in zip(problem.num_choices, code)),
                         problem.num_nodes - 1)
        problem = dataclasses.replace(problem, constraints=problem.constraints + (cut,))
        cuts += 1
        sol = _solve_once(problem, name, time_limit, options)
        seconds += sol.seconds
    sol.seconds = seconds
    sol.extra["cuts"] = cuts
    return sol


def _solve_once(problem: ChoiceProblem, name: str, time_limit: float, options: dict) -> Solution:
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
