"""Exhaustive, vectorised solving: the reference every other backend is checked against."""
from __future__ import annotations

import time

import numpy as np

from core.protocols import SolverBackend
from solvers.problem import ChoiceProblem, Solution

MAX_ENUMERATION = 20_000_000  # codes; above this `enumerate` refuses (memory and minutes)
# Up to this many codes vectorised enumeration is the fastest exact backend (NAS-Bench-201 in about a
# millisecond, hundreds of times faster than any MILP solver there); beyond it MILP backends are preferred.
PREFERRED_UP_TO = 1_000_000
_CHUNK = 1_000_000


def _codes_chunk(num_choices: tuple[int, ...], start: int, stop: int) -> np.ndarray:
    """Codes with lexicographic ranks start..stop-1 (last node fastest)."""
    ranks = np.arange(start, stop, dtype=np.int64)
    codes = np.empty((ranks.size, len(num_choices)), dtype=np.int64)
    for i in range(len(num_choices) - 1, -1, -1):
        codes[:, i] = ranks % num_choices[i]
        ranks //= num_choices[i]
    return codes


def _count(size: int) -> str:
    if size < 10**12:
        return f"{size:,}"
    digits = str(size)
    return f"{digits[0]}.{digits[1:3]}e{len(digits) - 1}"   # no float(): 50**200 overflows it


def solve_enumerate(problem: ChoiceProblem, time_limit: float | None = None, **_) -> Solution:
    t0 = time.perf_counter()
    if problem.size > MAX_ENUMERATION:
        return Solution(None, None, "unavailable", 0.0, "enumerate",
                        reason=f"{_count(problem.size)} codes exceed the enumeration limit of {MAX_ENUMERATION:,}")
    best_code, best_val = None, -np.inf
    for start in range(0, problem.size, _CHUNK):
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            status = "time_limit"
            return Solution(best_code, None if best_code is None else float(best_val), status,
                            time.perf_counter() - t0, "enumerate", reason=f"time limit {time_limit}s hit")
        codes = _codes_chunk(problem.num_choices, start, min(start + _CHUNK, problem.size))
        ok = problem.feasible(codes)
        if not ok.any():
            continue
        vals = np.where(ok, problem.objective(codes), -np.inf)
        k = int(np.argmax(vals))
        if vals[k] > best_val:
            best_val, best_code = vals[k], codes[k].copy()
    seconds = time.perf_counter() - t0
    if best_code is None:
        return Solution(None, None, "infeasible", seconds, "enumerate", reason="no code meets every constraint")
    return Solution(best_code, float(best_val), "optimal", seconds, "enumerate", gap=0.0)


backend = SolverBackend("enumerate", solve=solve_enumerate, suits=lambda problem: problem.size <= PREFERRED_UP_TO,
                        description="exhaustive vectorised enumeration (the reference every backend is checked against)")
