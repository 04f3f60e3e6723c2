"""Regularized evolution (Real et al., AAAI 2019): tournament selection, one-edge mutation, ageing.

A child is the network its code describes: `space.index` maps it to its canonical row (NAS-Bench-Macro: the
identities moved to the end of their stage) and the population keeps that row's code, so a parent's
neighbours are its distinct one-node mutations, each network once and never the parent itself.

The budget counts DISTINCT evaluations (the oracle's rule): a child that was evaluated before costs
nothing and simply re-enters the population with its known accuracy. The loop therefore also stops when
`max_stall` steps in a row bring no new evaluation (the neighbourhood of the population is used up,
e.g. under tight limits), so it always terminates. Only children meeting the limits are evaluated: a
mutation picks uniformly among the parent's feasible one-edge neighbours (hardware queries, cached). On a
space with `valid(codes)` (NAS-Bench-Graph) neighbours without a row are never drawn.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from baselines.common import DEFAULT_BUDGET, FeasibleStream, check_int, feasible, resolve_budget
from core.protocols import MethodBase, SearchResult


class RegularizedEvolution(MethodBase):
    """Spends the oracle's budget (100 evaluations when it has none)."""

    name = "evolution"

    def __init__(self, seed: int = 0, population: int = 50, sample_size: int = 10, max_stall: int = 1000):
        self.seed = check_int("seed", seed)
        self.population = check_int("population", population, 1)
        self.sample_size = check_int("sample_size", sample_size, 1)
        self.max_stall = check_int("max_stall", max_stall, 1)

    def search(self, problem, oracle) -> SearchResult:
        rng = np.random.default_rng(self.seed)
        n = resolve_budget(oracle, DEFAULT_BUDGET)
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

        def feasible_neighbours(code) -> np.ndarray:
            nbrs = []
            for i, m in enumerate(num_choices):
                for j in range(m):
                    if j != code[i]:
                        c = code.copy()
                        c[i] = j
                        nbrs.append(c)
            nbrs = np.stack(nbrs)
            if valid is not None:           # a mutation may leave the benchmark (e.g. an all-skip GNN)
                nbrs = nbrs[valid(nbrs)]
                if nbrs.shape[0] == 0:
                    return nbrs
            rows = space.index(nbrs)
            first = np.sort(np.unique(rows, return_index=True)[1])        # each network once, in mutation order
            rows = rows[first][rows[first] != space.index(code[None])[0]]  # never the parent itself
            nbrs = space.enumerate()[rows]
            unknown = np.array([int(r) not in ok_cache for r in rows])
            if unknown.any():
                for r, f in zip(rows[unknown], feasible(oracle, nbrs[unknown], limits)):
                    ok_cache[int(r)] = bool(f)
            return nbrs[[ok_cache[int(r)] for r in rows]]

        # initial population: random feasible networks
        size = min(self.population, n)
        stream = FeasibleStream(oracle, limits, rng)
        init = stream.take(size)
        pop: deque[tuple[np.ndarray, float]] = deque()
        if init.shape[0]:
            for c, a in zip(init, evaluate(init)):
                pop.append((c, float(a)))
        sample = min(self.sample_size, max(len(pop), 1))
        steps = stall = 0
        stop = "budget"
        while len(acc_cache) < n:
            if not pop:
                stop = "no feasible network"
                break
            if stall >= self.max_stall:
                stop = "stalled"
                break
            steps += 1
            picks = rng.choice(len(pop), size=min(sample, len(pop)), replace=False)
            parent = max((pop[int(i)] for i in picks), key=lambda p: p[1])[0]
            nbrs = feasible_neighbours(parent)
            if nbrs.shape[0] == 0:
                stall += 1
                continue
            child = nbrs[int(rng.integers(nbrs.shape[0]))]
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
