"""Random search: evaluate uniformly random feasible networks until the budget is spent; keep the best.

Feasibility is checked on the device (hardware queries for latency/energy, free FLOPs/params) before a
network is evaluated, so every evaluation goes to a network that meets the limits. Under a limited
hardware regime it checks only while it can measure, and stops when it cannot (stop_reason "hardware
budget"): an unchecked network could not be returned as feasible anyway.
"""
from __future__ import annotations

import numpy as np

from baselines.common import DEFAULT_BUDGET, FeasibleStream, budget_left, check_int, resolve_budget
from core.protocols import MethodBase, SearchResult


class RandomSearch(MethodBase):
    """Spends the oracle's budget (100 evaluations when it has none)."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = check_int("seed", seed)

    def search(self, problem, oracle) -> SearchResult:
        n = resolve_budget(oracle, DEFAULT_BUDGET) + oracle.queries
        stream = FeasibleStream(oracle, problem.limits, np.random.default_rng(self.seed))
        best, best_acc, evaluated = None, -np.inf, 0
        while budget_left(oracle, n) > 0:
            # everything at once when hardware is free; one checked code at a time when it is limited
            codes = stream.take(1 if oracle.hw_limited else budget_left(oracle, n))
            if codes.shape[0] == 0:
                break
            for code in codes:           # one at a time, so the incumbent is known after every evaluation
                if budget_left(oracle, n) <= 0:
                    break
                acc = float(oracle.accuracy(code[None])[0])
                evaluated += 1
                if acc > best_acc:
                    best, best_acc = code, acc
                    oracle.incumbent(code)
        extra = {"evaluations": evaluated, "checked": stream.checked,
                 "stop_reason": "budget" if budget_left(oracle, n) <= 0 else stream.stop_reason or "budget"}
        if best is None:
            return SearchResult(None, {}, {**extra, "reason": "no evaluated network meets the limits"})
        return SearchResult(best.copy(), {"accuracy": best_acc}, extra)
