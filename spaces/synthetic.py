"""Synthetic modular search spaces with ground truth in closed form (for solver and method tests at scale).

A space has `m` nodes, node i has `n_i` choices. Every choice j of node i has a hidden "capacity"
z_ij in [0, 1]; bigger blocks are more accurate but slower, hungrier and heavier, so limits bind.
For a code c (one choice per node) the true metrics are

  accuracy(c) = acc0 + sum_i a[i][c_i] + sum_(i,k) in pairs  W_acc[(i,k)][c_i, c_k] + noise * g_acc(c)
  latency(c)  = (lat0 + sum_i l[i][c_i] + sum_pairs W_lat[(i,k)][c_i, c_k]) * (1 + hw_noise * g_lat(c))
  energy(c)   = (en0  + sum_i e[i][c_i] + sum_pairs W_en[(i,k)][c_i, c_k])  * (1 + hw_noise * g_en(c))
  flops(c)    = flops0 + sum_i f[i][c_i]            (MACs; exactly additive, as in real networks)
  params(c)   = params0 + sum_i p[i][c_i]

pairs = adjacent nodes (i, i+1); the interaction tables have standard deviation `strength` times the
typical per-block effect (hardware tables use `hw_strength`). g_*(c) is a standard-normal number
derived from a hash of (seed, metric, code): deterministic, independent between codes, mean zero.

Variable depth (Eq. 9): with `skip_from=s`, nodes i >= s get one extra LAST choice "skip" with zero
cost, zero interactions, and an accuracy penalty; valid codes skip a suffix of the network only.

`additive(metric)` gives the best additive approximation of the noiseless metric (its ANOVA main
effects under uniformly random codes): the per-block tables an additive predictor such as MathNAS's
can at best learn (analyses.solver_bench.synthetic_problem turns them into ILPs).

A synthetic space is a core.protocols.Space (task "synthetic", rows = every valid code) when it has at most
MAX_CODES codes; the registered space `synthetic` (8 nodes x 4 choices) comes with the device profile
`synthetic-hw` (its closed-form latency and energy), so every method can be run on it end to end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from math import prod

import numpy as np

from core.codes import check_codes, depth_valid, lexicographic_rank, product_codes
from core.errors import HarnessError, shown
from core.protocols import BlockCosts, DeviceProfile, Task

METRICS = ("accuracy", "latency", "energy", "flops", "params")
TASK = Task("synthetic", "accuracy", "%", note="closed form (spaces/synthetic.py)")
MAX_CODES = 2_000_000  # `codes()` refuses bigger spaces
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
_KEYS = {"accuracy": 1, "latency": 2, "energy": 3}


def _splitmix(h: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = h + np.uint64(0x9E3779B97F4A7C15)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


def hash_normal(codes: np.ndarray, seed: int, key: int) -> np.ndarray:
    """Standard-normal value per code, a pure function of (seed, key, code)."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64)).astype(np.uint64)
    h = np.full(codes.shape[0], np.uint64((seed * 1_000_003 + key * 7919) & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
    for i in range(codes.shape[1]):
        h = _splitmix(h ^ (codes[:, i] + np.uint64(i) * np.uint64(0x100000001B3)))
    h1, h2 = _splitmix(h ^ np.uint64(1)), _splitmix(h ^ np.uint64(2))
    u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 1.0) / 2.0**53   # (0, 1]
    u2 = (h2 >> np.uint64(11)).astype(np.float64) / 2.0**53
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@dataclass(frozen=True, eq=False)
class SyntheticSpace:
    """Use `make_space(...)` to build one; every field is derived deterministically from its arguments."""

    num_choices: tuple[int, ...]
    seed: int
    strength: float
    noise: float
    hw_strength: float
    hw_noise: float
    skip_from: int | None
    main: dict          # metric -> tuple of per-node arrays
    const: dict         # metric -> float
    pairs: tuple[tuple[int, int], ...]
    inter: dict         # "accuracy" | "latency" | "energy" -> tuple of (n_i x n_k) arrays, aligned with pairs
    name: str = ""
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    # --- shape -------------------------------------------------------------------------------
    num_nodes = property(lambda self: len(self.num_choices))
    product_size = property(lambda self: prod(self.num_choices), doc="codes of the product space (skip orderings "
                                                                      "not deducted)")

    def is_skip(self, node: int, choice: int) -> bool:
        return self.skip_from is not None and node >= self.skip_from and choice == self.num_choices[node] - 1

    def depth_valid(self, codes) -> np.ndarray:
        return depth_valid(codes, self.num_choices, self.skip_from)

    def codes(self) -> np.ndarray:
        """All valid codes (lexicographic order), for spaces of at most MAX_CODES codes."""
        if self.product_size > MAX_CODES:
            raise HarnessError(f"synthetic space {self.name!r} has {self.product_size:,} codes; enumeration stops "
                               f"at {MAX_CODES:,}")
        codes = product_codes(self.num_choices)
        return codes[self.depth_valid(codes)] if self.skip_from is not None else codes

    def sample(self, k: int, seed: int = 0) -> np.ndarray:
        """k uniformly random valid codes (a skipped node skips every later node too)."""
        rng = np.random.default_rng([self.seed, 7, seed])
        codes = np.empty((k, self.num_nodes), dtype=np.int64)
        for i, n in enumerate(self.num_choices):
            codes[:, i] = rng.integers(0, n, size=k)
        if self.skip_from is not None:
            skipped = np.zeros(k, dtype=bool)
            for i in range(self.skip_from, self.num_nodes):
                skipped |= codes[:, i] == self.num_choices[i] - 1
                codes[skipped, i] = self.num_choices[i] - 1
        return codes.astype(np.int64)

    # --- closed-form truth -------------------------------------------------------------------
    def _check(self, codes) -> np.ndarray:
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        if codes.shape[1] != self.num_nodes:
            raise HarnessError(f"synthetic space {self.name!r}: codes need {self.num_nodes} entries, got {codes.shape[1]}")
        n = np.array(self.num_choices)
        if codes.size and (codes.min() < 0 or np.any(codes >= n)):
            raise HarnessError(f"synthetic space {self.name!r}: a code has a choice outside 0..n_i-1")
        return codes

    def _noiseless(self, metric: str, codes: np.ndarray) -> np.ndarray:
        cols = np.ascontiguousarray(codes.T)  # node-major: each gather reads one contiguous column
        total = np.full(codes.shape[0], self.const[metric])
        for i, b in enumerate(self.main[metric]):
            total += b[cols[i]]
        for (i, k), W in zip(self.pairs, self.inter.get(metric, ())):
            total += W[cols[i], cols[k]]
        return total

    def true_metric(self, metric: str, codes) -> np.ndarray:
        if metric not in METRICS:
            raise HarnessError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
        codes = self._check(codes)
        value = self._noiseless(metric, codes)
        if metric == "accuracy" and self.noise:
            value = value + self.noise * hash_normal(codes, self.seed, _KEYS[metric])
        elif metric in ("latency", "energy") and self.hw_noise:
            value = value * (1.0 + self.hw_noise * hash_normal(codes, self.seed, _KEYS[metric]))
        return value

    def true_metrics(self, codes) -> dict[str, np.ndarray]:
        """Every metric for every code, exactly (closed form)."""
        return {m: self.true_metric(m, codes) for m in METRICS}

    # --- additive view (what a block-wise predictor can learn) ----------------------------------
    def additive(self, metric: str) -> tuple[tuple[np.ndarray, ...], float]:
        """(per-node tables, constant): main effects plus the ANOVA projection of the interactions."""
        if metric not in METRICS:
            raise HarnessError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
        blocks = [b.copy() for b in self.main[metric]]
        const = float(self.const[metric])
        for (i, k), W in zip(self.pairs, self.inter.get(metric, ())):
            mu = float(W.mean())
            blocks[i] += W.mean(axis=1) - mu
            blocks[k] += W.mean(axis=0) - mu
            const += mu
        return tuple(blocks), const

    @cached_property
    def costs(self) -> BlockCosts:
        return BlockCosts(self.main["flops"], self.const["flops"], self.main["params"], self.const["params"])

    def limit(self, metric: str, quantile: float, samples: int = 20_000) -> float:
        """The `quantile` of the true metric over random valid codes (all codes when the space is small)."""
        if not 0.0 <= quantile <= 1.0:
            raise HarnessError(f"quantile {quantile} outside [0, 1]")
        key = (metric, samples)
        if key not in self._memo:  # the true metric over the reference codes, computed once per space
            if ("codes", samples) not in self._memo:
                self._memo[("codes", samples)] = self.codes() if self.product_size <= samples else \
                    self.sample(samples, seed=1)
            self._memo[key] = self.true_metric(metric, self._memo[("codes", samples)])
        return float(np.quantile(self._memo[key], quantile))

    # --- the Space protocol (enumerable spaces) ---------------------------------------------------
    source = "synthetic, closed form (spaces/synthetic.py)"

    @property
    def choice_names(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple("skip" if self.is_skip(i, j) else f"c{j}" for j in range(n))
                     for i, n in enumerate(self.num_choices))

    @property
    def tasks(self) -> dict[str, Task]:
        return {TASK.name: TASK}

    def enumerate(self) -> np.ndarray:
        if "rows" not in self._memo:
            codes = self.codes()
            codes.setflags(write=False)
            row_of = np.full(self.product_size, -1, dtype=np.int64)
            row_of[lexicographic_rank(codes, self.num_choices)] = np.arange(codes.shape[0])
            self._memo["rows"], self._memo["row_of"] = codes, row_of
        return self._memo["rows"]

    @property
    def size(self) -> int:
        """Rows of the table: every valid code."""
        return int(self.enumerate().shape[0])

    def index(self, codes) -> np.ndarray:
        self.enumerate()
        codes = check_codes(codes, self.num_choices, f"synthetic space {self.name!r}")
        rows = self._memo["row_of"][lexicographic_rank(codes, self.num_choices)]
        if np.any(rows < 0):
            bad = codes[int(np.argmax(rows < 0))]
            raise HarnessError(f"synthetic space {self.name!r}: code {self.decode(bad)} skips a node but not "
                               f"all later ones (Eq. 9)")
        return rows

    def encode(self, arch: str) -> np.ndarray:
        parts = str(arch).split("-")
        try:
            code = np.array([int(p) for p in parts], dtype=np.int64)
        except ValueError:
            raise HarnessError(f"synthetic arch {shown(arch)}: expected {self.num_nodes} choice numbers "
                               f"joined by '-'") from None
        check_codes(code, self.num_choices, f"synthetic arch {arch!r}")
        return code

    def decode(self, code) -> str:
        c = check_codes(code, self.num_choices, f"synthetic space {self.name!r}")[0]
        return "-".join(str(int(v)) for v in c)

    def block_costs(self, dataset: str | None = None) -> BlockCosts:
        return self.costs

    def accuracy(self, dataset: str, split: str = "test") -> np.ndarray:
        if dataset != TASK.name:
            raise HarnessError(f"synthetic space: no dataset {dataset!r}; it has {TASK.name!r}")
        return self.true_metric("accuracy", self.enumerate())


REGISTERED = dict(m=8, n=4, seed=0, strength=0.1)


def load_space(sources=None) -> SyntheticSpace:
    """The registered space `synthetic` (entry point): 8 nodes x 4 choices, seed 0, mild interactions."""
    return make_space(**REGISTERED, name="synthetic")


def _closed_form(space, dataset: str, sources) -> dict[str, np.ndarray]:
    codes = space.enumerate()
    return {"latency": space.true_metric("latency", codes), "energy": space.true_metric("energy", codes)}


def device_profiles() -> list[DeviceProfile]:
    """`synthetic-hw`: the synthetic space's closed-form latency (ms) and energy (mJ)."""
    return [DeviceProfile("synthetic-hw", "table", ("latency", "energy"), "closed form (spaces/synthetic.py)",
                          _closed_form, coverage={"synthetic": None})]


def make_space(m: int, n, seed: int = 0, strength: float = 0.1, noise: float = 0.0, skip_from: int | None = None,
               hw_strength: float | None = None, hw_noise: float = 0.0, name: str | None = None) -> SyntheticSpace:
    """A seeded synthetic space: `m` nodes, `n` choices each (int) or per node (sequence).

    With `skip_from`, nodes i >= skip_from get one extra last choice "skip" (so they have n_i + 1).
    `strength` scales the pairwise accuracy interactions, `hw_strength` (default strength / 4) the
    latency/energy ones; `noise` is the accuracy noise std (points), `hw_noise` the relative
    latency/energy noise std. Same arguments -> identical space.
    """
    if m < 1:
        raise HarnessError(f"synthetic space needs m >= 1 nodes, got {m}")
    n = [int(n)] * m if np.isscalar(n) else [int(v) for v in n]
    if len(n) != m or min(n) < 1:
        raise HarnessError(f"synthetic space: need {m} positive choice counts, got {n}")
    if skip_from is not None and not 0 <= skip_from < m:
        raise HarnessError(f"synthetic space: skip_from={skip_from} outside 0..{m - 1}")
    if min(strength, noise, hw_noise) < 0 or (hw_strength is not None and hw_strength < 0):
        raise HarnessError("synthetic space: strength and noise levels must be >= 0")
    hw_strength = strength / 4 if hw_strength is None else hw_strength
    rng = np.random.default_rng([int(seed), m, *n])
    acc_scale = 20.0 / m            # the whole space spans about 20 accuracy points
    lat_node = rng.uniform(0.5, 1.5, size=m)
    power = rng.uniform(0.5, 2.0, size=m)
    flop_node = rng.uniform(0.5, 2.0, size=m) * 1e6
    main = {k: [] for k in METRICS}
    for i in range(m):
        z = rng.uniform(0.0, 1.0, size=n[i])
        main["accuracy"].append(acc_scale * (np.sqrt(z) + 0.15 * rng.standard_normal(n[i])))
        lat = lat_node[i] * (0.2 + z + 0.1 * np.abs(rng.standard_normal(n[i])))
        main["latency"].append(lat)
        main["energy"].append(np.maximum(lat * power[i] * (1.0 + 0.2 * rng.standard_normal(n[i])), 0.01))
        f = flop_node[i] * (0.05 + z ** 1.5 + 0.05 * rng.random(n[i]))
        main["flops"].append(f)
        main["params"].append(f * rng.uniform(0.001, 0.01) * (1.0 + 0.1 * rng.random(n[i])))
    sizes = list(n)
    if skip_from is not None:
        for i in range(skip_from, m):
            main["accuracy"][i] = np.append(main["accuracy"][i], -0.5 * acc_scale)
            for k in ("latency", "energy", "flops", "params"):
                main[k][i] = np.append(main[k][i], 0.0)
            sizes[i] += 1
    pairs = tuple((i, i + 1) for i in range(m - 1))
    inter = {}
    for metric, sd in (("accuracy", strength * acc_scale), ("latency", hw_strength * float(lat_node.mean())),
                       ("energy", hw_strength * float((lat_node * power).mean()))):
        tables = []
        for i, k in pairs:
            W = sd * rng.standard_normal((sizes[i], sizes[k]))
            if skip_from is not None:          # a skipped node interacts with nothing
                if i >= skip_from:
                    W[-1, :] = 0.0
                if k >= skip_from:
                    W[:, -1] = 0.0
            tables.append(W)
        inter[metric] = tuple(tables)
    const = {"accuracy": 60.0, "latency": 1.0, "energy": 1.0, "flops": 1e6, "params": 1e4}
    name = name or f"synthetic-m{m}-n{max(n)}-s{seed}" + ("" if skip_from is None else f"-skip{skip_from}")
    return SyntheticSpace(num_choices=tuple(sizes), seed=int(seed), strength=float(strength), noise=float(noise),
                          hw_strength=float(hw_strength), hw_noise=float(hw_noise), skip_from=skip_from,
                          main={k: tuple(v) for k, v in main.items()}, const=const, pairs=pairs, inter=inter,
                          name=name)
