"""Random search: evaluate uniformly random feasible networks until the budget is spent; keep the best.

Feasibility is checked on the device (hardware queries for latency/energy, free FLOPs/params) before a
network is evaluated, so every evaluation goes to a network that meets the limits.
"""
from __future__ import annotations

import numpy as np

from baselines.common import DEFAULT_BUDGET, FeasibleStream, check_int, resolve_budget
from harness.methods import SearchResult


class RandomSearch:
    def __init__(self, seed: int = 0, budget: int | None = None):
        self.seed = check_int("seed", seed)
        self.budget = None if budget is None else check_int("budget", budget)

    def search(self, problem, oracle) -> SearchResult:
        n = resolve_budget(oracle, self.budget, DEFAULT_BUDGET)
        stream = FeasibleStream(oracle, problem.limits, np.random.default_rng(self.seed))
        codes = stream.take(n)
        extra = {"evaluations": int(codes.shape[0]), "checked": stream.checked,
                 "stop_reason": "budget" if codes.shape[0] == n else "space exhausted"}
        if codes.shape[0] == 0:
            return SearchResult(None, {}, {**extra, "reason": "no evaluated network meets the limits"})
        acc = oracle.accuracy(codes)
        k = int(np.argmax(acc))
        return SearchResult(codes[k].copy(), {"accuracy": float(acc[k])}, extra)
