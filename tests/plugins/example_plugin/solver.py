"""Brute force in plain Python: exact on small problems, and slow on purpose (it only suits tiny ones)."""
import itertools
import time

import numpy as np

from core.protocols import SolverBackend
from solvers.problem import ChoiceProblem, Solution


def solve_brute(problem: ChoiceProblem, time_limit=None, **options):
    t0, best, best_value = time.perf_counter(), None, None
    if problem.size > 200_000:
        return Solution(None, None, "unavailable", 0.0, "brute", reason=f"{problem.size:,} codes: too many")
    for code in itertools.product(*[range(n) for n in problem.num_choices]):
        if problem.feasible(code)[0]:
            value = float(problem.objective(code)[0])
            if best_value is None or value > best_value:
                best, best_value = np.array(code), value
    status = "optimal" if best is not None else "infeasible"
    return Solution(best, best_value, status, time.perf_counter() - t0, "brute", gap=0.0 if best is not None else None)


backend = SolverBackend("brute", solve=solve_brute, suits=lambda problem: problem.size <= 1000,
                        description="plain-Python brute force (example plugin)")
