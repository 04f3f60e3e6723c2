"""Random search: evaluate uniformly random feasible networks until the budget is spent; keep the best.

Feasibility is checked on the device (hardware queries for latency/energy, free FLOPs/params) before a
network is evaluated, so every evaluation goes to a network that meets the limits.
"""
from __future__ import annotations

import numpy as np

from baselines.common import DEFAULT_BUDGET, FeasibleStream, check_int, resolve_budget
from core.protocols import MethodBase, SearchResult


class RandomSearch(MethodBase):
    """Spends the oracle's budget (100 evaluations when it has none)."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = check_int("seed", seed)

    def search(self, problem, oracle) -> SearchResult:
        n = resolve_budget(oracle, DEFAULT_BUDGET)
        stream = FeasibleStream(oracle, problem.limits, np.random.default_rng(self.seed))
        codes = stream.take(n)
        extra = {"evaluations": int(codes.shape[0]), "checked": stream.checked,
                 "stop_reason": "budget" if codes.shape[0] == n else "space exhausted"}
        if codes.shape[0] == 0:
            return SearchResult(None, {}, {**extra, "reason": "no evaluated network meets the limits"})
        best, best_acc = None, -np.inf
        for code in codes:               # one at a time, so the incumbent is known after every evaluation
            acc = float(oracle.accuracy(code[None])[0])
            if acc > best_acc:
                best, best_acc = code, acc
                oracle.incumbent(code)
        return SearchResult(best.copy(), {"accuracy": best_acc}, extra)
