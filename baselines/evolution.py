"""Regularized evolution (Real et al., AAAI 2019): tournament selection, one-edge mutation, ageing.

A child is the network its code describes: `space.index` maps it to its canonical row (NAS-Bench-Macro: the
identities moved to the end of their stage) and the population keeps that row's code, so a parent's
neighbours are its distinct one-node mutations, each network once and never the parent itself.
Published settings on NAS-Bench-201 (Dong et al., NATS-Bench `regularized_ea.py`): population 10, tournament
sample 3; these are the defaults, and other values are reported as deviations.

The budget counts DISTINCT evaluations (the oracle's rule): a child that was evaluated before costs
nothing and simply re-enters the population with its known accuracy. The loop therefore also stops when
`max_stall` steps in a row bring no new evaluation (the neighbourhood of the population is used up,
e.g. under tight limits), so it always terminates. Only children meeting the limits are evaluated: a
mutation picks uniformly among the parent's feasible one-edge neighbours, by checking the neighbours in a
seeded random order until one is feasible (the same distribution as checking them all, for a fraction of
the hardware queries; results are cached). Under a limited hardware regime it checks only while it can
measure, and stops when no known-feasible child is left to try (stop_reason "hardware budget"). On a
space with `valid(codes)` (NAS-Bench-Graph) neighbours without a row are never drawn.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from baselines.common import (DEFAULT_BUDGET, FeasibleStream, budget_left, check_int, feasible, hw_metrics,
                              resolve_budget)
from core.codes import swap_codes
from core.protocols import MethodBase, SearchResult


class RegularizedEvolution(MethodBase):
    """Spends the oracle's budget (100 evaluations when it has none)."""

    name = "evolution"

    PUBLISHED = {"population": 10, "sample_size": 3}

    def __init__(self, seed: int = 0, population: int = 10, sample_size: int = 3, max_stall: int = 1000):
        self.seed = check_int("seed", seed)
        self.population = check_int("population", population, 1)
        self.sample_size = check_int("sample_size", sample_size, 1)
        self.max_stall = check_int("max_stall", max_stall, 1)

    def deviations(self) -> list[str]:
        return [f"{k}: {getattr(self, k)} (published: {v})" for k, v in self.PUBLISHED.items() if getattr(self, k) != v]

    def search(self, problem, oracle) -> SearchResult:
        rng = np.random.default_rng(self.seed)
        n = resolve_budget(oracle, DEFAULT_BUDGET) + oracle.queries
        space = oracle.space
        num_choices = np.asarray(space.num_choices)
        valid = getattr(space, "valid", None)      # optional Space capability: codes that have a row
        limits = problem.limits
        ok_cache: dict[int, bool] = {}
        acc_cache: dict[int, float] = {}

        def key(code) -> int:
            return int(space.index(code)[0])

        best = [-np.inf]

        def evaluate(codes) -> np.ndarray:
            acc = np.array([float(oracle.accuracy(c[None])[0]) for c in codes])  # one at a time: anytime incumbent
            for c, a in zip(codes, acc):
                acc_cache[key(c)] = float(a)
                if a > best[0]:
                    best[0] = float(a)
                    oracle.incumbent(c)
            return acc

        def neighbours(code) -> tuple[np.ndarray, np.ndarray]:
            """The networks one mutation away (each once, in mutation order, never the parent) and their rows."""
            nbrs = swap_codes(code, num_choices)[0][1:]
            if valid is not None:           # a mutation may leave the benchmark (e.g. an all-skip GNN)
                nbrs = nbrs[valid(nbrs)]
                if nbrs.shape[0] == 0:
                    return nbrs, np.empty(0, dtype=np.int64)
            rows = space.index(nbrs)
            first = np.sort(np.unique(rows, return_index=True)[1])
            rows = rows[first][rows[first] != space.index(code[None])[0]]
            return space.enumerate()[rows], rows

        def random_feasible_neighbour(code):
            """A uniformly random feasible neighbour (None: none, or none checkable within the hardware)."""
            nbrs, rows = neighbours(code)
            if nbrs.shape[0] == 0:
                return None, False
            blocked = False
            for t in rng.permutation(nbrs.shape[0]):
                r = int(rows[t])
                if r not in ok_cache:
                    if hw_limited and not oracle.hw_measured(nbrs[t:t + 1])[0] and not oracle.hw_allowance(reserve=1):
                        blocked = True
                        continue
                    ok_cache[r] = bool(feasible(oracle, nbrs[t:t + 1], limits)[0])
                if ok_cache[r]:
                    return nbrs[t], False
            return None, blocked

        hw_limited = oracle.hw_limited and bool(hw_metrics(limits))
        # initial population: random feasible networks
        size = min(self.population, n - oracle.queries)
        stream = FeasibleStream(oracle, limits, rng)
        pop: deque[tuple[np.ndarray, float]] = deque()
        while len(pop) < size and budget_left(oracle, n) > 0:
            init = stream.take(1 if oracle.hw_limited else size - len(pop))
            if init.shape[0] == 0:
                break
            for c in init:
                if budget_left(oracle, n) <= 0:
                    break
                pop.append((c, float(evaluate(c[None])[0])))
        sample = min(self.sample_size, max(len(pop), 1))
        steps = stall = 0
        stop = "budget"
        while budget_left(oracle, n) > 0:
            if not pop:
                stop = stream.stop_reason if stream.stop_reason == "hardware budget" else "no feasible network"
                break
            if stall >= self.max_stall:
                stop = "stalled"
                break
            if hw_limited and not oracle.hw_allowance(reserve=1) and \
                    not any(ok and r not in acc_cache for r, ok in ok_cache.items()):
                stop = "hardware budget"     # no measurement left and no checked child left to evaluate
                break
            steps += 1
            picks = rng.choice(len(pop), size=min(sample, len(pop)), replace=False)
            parent = max((pop[int(i)] for i in picks), key=lambda p: p[1])[0]
            child, blocked = random_feasible_neighbour(parent)
            if child is None:
                if blocked and hw_limited and not oracle.hw_allowance(reserve=1):
                    stop = "hardware budget"
                    break
                stall += 1
                continue
            k = key(child)
            if k in acc_cache:
                acc = acc_cache[k]
                stall += 1
            else:
                acc = float(evaluate(child[None])[0])
                stall = 0
            pop.append((child, acc))
            if len(pop) > self.population:
                pop.popleft()   # ageing: the oldest dies, whatever its accuracy
        extra = {"evaluations": len(acc_cache), "steps": steps, "stop_reason": stop}
        if not acc_cache:
            return SearchResult(None, {}, {**extra, "reason": "no evaluated network meets the limits"})
        top = max(acc_cache, key=lambda r: (acc_cache[r], -r))
        return SearchResult(space.enumerate()[top].copy(), {"accuracy": acc_cache[top]}, extra)
