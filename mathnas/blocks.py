"""Block-performance tables and the Eq. 5 predictor, for any modular space.

A modular space is `m` nodes with `n_i` choices each, exact per-choice FLOPs plus a fixed part
(`core.protocols.BlockCosts`), and an evaluator that reveals true metrics of codes (and counts them).
Profiling (mathnas.variants) turns evaluations into block values

    b[i][j] = metric(context with node i = base choice) - metric(context with node i = j)

and the Eq. 5 predictor reads a network's metric off them:

    latency, energy:  base_value - sum_i b[i][x_i]
    accuracy:         base_value - ref_flops / FLOPs(x) * sum_i b[i][x_i]      (FLOPs-scaled, Eq. 5/6)
                      base_value - sum_i b[i][x_i]                              (ablation: plain sum)

`base_value` is the metric of the base network (every node at its base choice); `ref_flops` is the
FLOPs at which the block values were measured (the average-FLOPs network N_avg for Algorithm 1).
FLOPs(x) includes the fixed part of the network (stem, reductions, classifier), so the ratio is
defined for every architecture, including cells of none/skip_connect only.

A space that publishes no per-choice FLOPs (NAS-Bench-Graph: `block_costs` is None) gets the plain block
sum (MathNAS says so in its deviations), `ref_flops` None, and every node's first choice wherever a choice
was to be picked by FLOPs (base 'largest'/'smallest', N_avg). A space with `valid(codes)` (codes that have
a row) is profiled on valid codes only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Callable

import numpy as np

from core.codes import product_codes, skip_structure, space_skip_structure
from core.errors import HarnessError
from core.protocols import BlockCosts

HARDWARE_METRICS = ("latency", "energy")
PROFILED_METRICS = ("accuracy",) + HARDWARE_METRICS
MAX_FULL = 5_000_000  # codes; profiling every network of a bigger space is refused
NO_FLOPS = ("this space has no exact per-choice FLOPs (block_costs is None), so Eq. 5's FLOPs scaling is undefined; "
            "use the plain block sum: --param flops_scaling=false (the paper's Table 5 ablation)")


def as_codes(codes, num_choices) -> np.ndarray:
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    if codes.ndim != 2 or codes.shape[1] != len(num_choices):
        raise HarnessError(f"codes must have shape (k, {len(num_choices)}), got {codes.shape}")
    if codes.size and (codes.min() < 0 or np.any(codes >= np.asarray(num_choices))):
        raise HarnessError(f"code entries must be in 0..n_i-1 for n = {list(num_choices)}")
    return codes


@dataclass(frozen=True)
class SpaceSpec:
    """What profiling needs to know about a space: its shape, per-choice costs, Eq. 9 structure and which codes
    have a row (`valid`, None: all).

    `costs` is None for a space without exact FLOPs (NAS-Bench-Graph, TransNAS-Bench-101 micro): then only the
    plain block sum can be used (flops_scaling=false). Where profiling needs a size order of a node's choices
    (base "largest"/"smallest", N_avg) it uses the FLOPs, else the listing order when the space lists its
    choices from smallest to largest (`choices_by_size`), else every node's first choice."""

    num_choices: tuple[int, ...]
    costs: BlockCosts | None
    skip_from: int | None = None           # Eq. 9 shorthand: nodes >= skip_from have a last choice "skip"
    choice_names: tuple[tuple[str, ...], ...] | None = None
    name: str = ""
    valid: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False)
    exact_costs: bool = True               # False: `costs` is the space's size index (hardware-only profiling)
    skip_groups: tuple[tuple[int, ...], ...] | None = None   # Eq. 9 (core.codes.skip_structure)
    skip_choice: tuple[int | None, ...] | None = None
    choices_by_size: bool = False

    def __post_init__(self):
        object.__setattr__(self, "num_choices", tuple(int(n) for n in self.num_choices))
        if not self.num_choices or min(self.num_choices) < 1:
            raise HarnessError(f"space {self.name!r}: every node needs at least one choice, got {self.num_choices}")
        if self.costs is not None:
            shape = tuple(len(b) for b in self.costs.block_flops)
            if shape != self.num_choices:
                raise HarnessError(f"space {self.name!r}: block_flops shape {list(shape)} != choices "
                                   f"{list(self.num_choices)}")
        groups, choice = skip_structure(self.num_choices, self.skip_from, self.skip_groups, self.skip_choice,
                                        what=f"space {self.name!r}")
        object.__setattr__(self, "skip_groups", groups)
        object.__setattr__(self, "skip_choice", choice)

    num_nodes = property(lambda self: len(self.num_choices))
    size = property(lambda self: prod(self.num_choices))

    @property
    def has_flops(self) -> bool:
        """Exact per-choice FLOPs (a size index standing in for them does not count)."""
        return self.costs is not None and self.exact_costs

    @property
    def block_flops(self) -> tuple[np.ndarray, ...] | None:
        return None if self.costs is None else tuple(np.asarray(b, dtype=np.float64) for b in self.costs.block_flops)

    def _costs(self) -> BlockCosts:
        if self.costs is None:
            raise HarnessError(f"space {self.name!r} has no exact per-choice FLOPs/params (block_costs is None)")
        return self.costs

    @property
    def size_order(self) -> tuple[np.ndarray, ...] | None:
        """Per node, what "larger choice" means: FLOPs (or the size index), else the listing order of a space
        that lists its choices by size, else None (unknown: every node's first choice stands in)."""
        if self.costs is not None:
            return self.block_flops
        if self.choices_by_size:
            return tuple(np.arange(n, dtype=np.float64) for n in self.num_choices)
        return None

    def flops(self, codes) -> np.ndarray:
        return self._costs().flops(as_codes(codes, self.num_choices))

    def params(self, codes) -> np.ndarray:
        return self._costs().params(as_codes(codes, self.num_choices))

    def is_valid(self, codes) -> np.ndarray:
        codes = as_codes(codes, self.num_choices)
        return np.ones(codes.shape[0], dtype=bool) if self.valid is None else np.asarray(self.valid(codes), dtype=bool)

    def reference_flops(self, codes) -> float | None:
        """The FLOPs at which block values measured on `codes` hold: one network's own FLOPs, the harmonic
        mean over several; None without exact FLOPs (only the plain block sum is possible then)."""
        codes = as_codes(codes, self.num_choices)
        if not self.has_flops:
            return None
        return float(self.flops(codes)[0]) if codes.shape[0] == 1 else harmonic_mean_flops(self, codes)

    @classmethod
    def of(cls, space, dataset: str | None = None, proxy_ok: bool = False) -> "SpaceSpec":
        """From a Space (its `block_costs(dataset)`, None allowed, its optional `valid` and Eq. 9 structure) or
        anything with a `costs` attribute.

        `proxy_ok` (hardware-only profiling, where FLOPs only pick the base and N_avg choices): a space
        without FLOPs may give its `size_proxy` instead; such a spec refuses FLOPs/params limits."""
        costs = getattr(space, "costs", None)
        if costs is None and hasattr(space, "block_costs"):
            costs = space.block_costs(dataset) if callable(space.block_costs) else space.block_costs
        if costs is not None and not isinstance(costs, BlockCosts):
            raise HarnessError(f"space {getattr(space, 'name', type(space).__name__)!r} gives per-choice costs of "
                               f"type {type(costs).__name__}, not core.protocols.BlockCosts")
        exact = costs is not None
        if not exact and proxy_ok and callable(getattr(space, "size_proxy", None)):
            proxy = tuple(np.asarray(b, dtype=np.float64) for b in space.size_proxy(dataset))
            costs = BlockCosts(proxy, 0.0, proxy, 0.0)
        groups, choice = space_skip_structure(space)
        return cls(num_choices=tuple(space.num_choices), costs=costs, skip_from=getattr(space, "skip_from", None),
                   choice_names=getattr(space, "choice_names", None), name=str(getattr(space, "name", "")),
                   valid=getattr(space, "valid", None), exact_costs=exact, skip_groups=groups, skip_choice=choice,
                   choices_by_size=bool(getattr(space, "choices_by_size", False)))


# --- evaluators: the door through which profiling sees ground truth ---------------------------------
class OracleEvaluator:
    """Adapter for `core.oracle.Oracle`: accuracy counted as evaluations, latency/energy as hardware queries.

    Where the benchmark's table holds samples of a larger space, `population()` is the table's codes a
    method may query (the search split): what `full`/`sampled` profile, since other codes have no truth."""

    def __init__(self, oracle):
        self.oracle = oracle

    def metrics(self) -> tuple[str, ...]:
        return tuple(m for m in PROFILED_METRICS if self.oracle.has(m))

    def population(self) -> np.ndarray | None:
        space = self.oracle.space
        if space.size >= prod(space.num_choices) and self.oracle.gt.search_rows is None:
            return None   # the table is the whole space
        return self.oracle.search_codes()

    def answerable(self, codes) -> np.ndarray:
        return self.oracle.answerable(codes)

    def where(self) -> str:
        return f"{self.oracle.space.name}/{self.oracle.dataset} on device {self.oracle.device!r}"

    def __call__(self, metric: str, codes: np.ndarray) -> np.ndarray:
        if metric == "accuracy":
            return self.oracle.accuracy(codes)
        return self.oracle.hardware(metric, codes)

    @property
    def queries(self) -> int:
        return self.oracle.queries

    @property
    def remaining(self) -> int | None:
        return self.oracle.remaining


class FunctionEvaluator:
    """Wraps `truth(metric, codes) -> values` (e.g. a synthetic space's closed form) and counts distinct
    codes like the harness oracle does: accuracy evaluations and hardware queries separately."""

    def __init__(self, truth: Callable[[str, np.ndarray], np.ndarray], metrics=PROFILED_METRICS,
                 budget: int | None = None):
        self.truth = truth
        self._metrics = tuple(metrics)
        self.budget = budget
        self._seen: dict[str, set] = {"accuracy": set(), "hardware": set()}

    def metrics(self) -> tuple[str, ...]:
        return self._metrics

    @property
    def queries(self) -> int:
        return len(self._seen["accuracy"])

    @property
    def hw_queries(self) -> int:
        return len(self._seen["hardware"])

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.queries

    def __call__(self, metric: str, codes: np.ndarray) -> np.ndarray:
        if metric not in self._metrics:
            raise HarnessError(f"evaluator has no metric {metric!r}; it has {', '.join(self._metrics)}")
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        seen = self._seen["accuracy" if metric == "accuracy" else "hardware"]
        new = {tuple(c) for c in codes.tolist()} - seen
        if metric == "accuracy" and self.budget is not None and len(seen) + len(new) > self.budget:
            raise HarnessError(f"evaluation budget of {self.budget} distinct architectures exhausted "
                               f"({len(seen)} used, {len(new)} more asked)")
        seen |= new
        return np.asarray(self.truth(metric, codes), dtype=np.float64)


# --- the fitted tables and the Eq. 5 predictor ------------------------------------------------------
@dataclass
class BlockTables:
    """Profiled block values of every metric plus what the predictor needs to use them."""

    variant: str
    num_choices: tuple[int, ...]
    base: tuple[int, ...]                      # base choice per node
    blocks: dict[str, tuple[np.ndarray, ...]]  # metric -> b[i][j]
    base_value: dict[str, float]               # metric of the base network
    ref_flops: float | None                    # FLOPs at which the block values were measured (None: no FLOPs)
    costs: BlockCosts | None
    context: tuple[int, ...] | None = None     # the network profiled around (N_avg or random), if any
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.num_choices = tuple(int(n) for n in self.num_choices)
        self.base = tuple(int(b) for b in self.base)
        self.blocks = {k: tuple(np.asarray(b, dtype=np.float64).reshape(-1) for b in v) for k, v in self.blocks.items()}
        for metric, b in self.blocks.items():
            if tuple(len(x) for x in b) != self.num_choices:
                raise HarnessError(f"variant {self.variant!r}: {metric} table shape {[len(x) for x in b]} "
                                   f"!= choices {list(self.num_choices)}")
            if not all(np.all(np.isfinite(x)) for x in b):
                raise HarnessError(f"variant {self.variant!r}: {metric} table has NaN or infinite values")
            if metric not in self.base_value or not np.isfinite(self.base_value[metric]):
                raise HarnessError(f"variant {self.variant!r}: no finite base value for {metric}")
        if (self.ref_flops is None) != (self.costs is None):
            raise HarnessError(f"variant {self.variant!r}: reference FLOPs must be given exactly when the space "
                               f"has FLOPs (got {self.ref_flops})")
        if self.ref_flops is not None and (not np.isfinite(self.ref_flops) or self.ref_flops <= 0):
            raise HarnessError(f"variant {self.variant!r}: reference FLOPs must be > 0, got {self.ref_flops}")

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.blocks)

    def block_sum(self, metric: str, codes) -> np.ndarray:
        codes = as_codes(codes, self.num_choices)
        total = np.zeros(codes.shape[0])
        for i, b in enumerate(self.blocks[metric]):
            total += b[codes[:, i]]
        return total

    def predict(self, codes, flops_scaling: bool = True) -> dict[str, np.ndarray]:
        """Eq. 5 for every profiled metric; FLOPs scaling applies to accuracy only (and needs FLOPs)."""
        codes = as_codes(codes, self.num_choices)
        if flops_scaling and self.costs is None:
            raise HarnessError(f"variant {self.variant!r}: FLOPs scaling needs per-choice FLOPs; this space has none")
        out = {}
        for metric in self.blocks:
            s = self.block_sum(metric, codes)
            if metric == "accuracy" and flops_scaling:
                if self.costs is None:
                    raise HarnessError(NO_FLOPS)
                s = s * (self.ref_flops / self.costs.flops(codes))
            out[metric] = _snap(self.base_value[metric] - s)
        return out

    def as_dict(self) -> dict:
        return {"variant": self.variant, "base": list(self.base), "context": None if self.context is None else list(self.context),
                "ref_flops": self.ref_flops, "base_value": dict(self.base_value),
                "blocks": {k: [b.tolist() for b in v] for k, v in self.blocks.items()}, "info": self.info}


def _snap(values: np.ndarray, digits: int = 12) -> np.ndarray:
    """Round away floating-point residue (about 1e-15 relative) of summing block values, so that networks
    whose predictions are equal in exact arithmetic stay tied (rank metrics count ties)."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    if not np.isfinite(scale) or scale == 0.0:
        return values
    return np.round(values, digits - int(np.ceil(np.log10(scale))))


# --- choices -----------------------------------------------------------------------------------------
def largest_choice(flops: np.ndarray) -> int:
    """Most FLOPs; ties go to the later choice."""
    f = np.asarray(flops, dtype=np.float64)
    return int(f.size - 1 - np.argmax(f[::-1]))


def smallest_choice(flops: np.ndarray) -> int:
    """Fewest FLOPs; ties go to the earlier choice."""
    return int(np.argmin(np.asarray(flops, dtype=np.float64)))


def average_choice(flops: np.ndarray) -> int:
    """The choice whose FLOPs are closest to the node's mean choice FLOPs (ties: the earlier choice)."""
    f = np.asarray(flops, dtype=np.float64)
    return int(np.argmin(np.abs(f - f.mean())))


def resolve_base(spec: SpaceSpec, base) -> np.ndarray:
    """Base choice per node from 'largest' | 'smallest' (by `spec.size_order`; unknown: every node's first
    choice) | a choice name | an index | a list of indices."""
    flops = spec.size_order
    if isinstance(base, str) and base in ("largest", "smallest"):
        if flops is None:
            return np.zeros(spec.num_nodes, dtype=np.int64)
        pick = largest_choice if base == "largest" else smallest_choice
        return np.array([pick(f) for f in flops], dtype=np.int64)
    if isinstance(base, str) and base.strip().lstrip("-").isdigit():
        base = int(base)
    if isinstance(base, str):
        names = spec.choice_names
        if names is None or any(base not in node for node in names):
            valid = sorted({n for node in names for n in node}) if names else []
            raise HarnessError(f"base {base!r}: not 'largest', 'smallest', a choice index or a choice name"
                               + (f" of every node ({', '.join(valid)})" if valid else ""))
        return np.array([list(node).index(base) for node in names], dtype=np.int64)
    values = np.atleast_1d(np.asarray(base))
    if values.dtype.kind not in "iu" or values.ndim != 1:
        raise HarnessError(f"base {base!r}: expected 'largest', 'smallest', a choice name or integer choice(s)")
    if values.size == 1:
        values = np.full(spec.num_nodes, int(values[0]))
    if values.size != spec.num_nodes or np.any(values < 0) or np.any(values >= np.asarray(spec.num_choices)):
        raise HarnessError(f"base {base!r}: need one choice in 0..n_i-1 per node, n = {list(spec.num_choices)}")
    return values.astype(np.int64)


# --- what a profiling variant works with -------------------------------------------------------------
class Profiler:
    """Handed to every profiling variant: the space, the base choices, a seeded RNG and counted evaluation.

    Variants spend evaluations only through `evaluate`; the helpers below cover the paper's
    estimators (a sweep around one context network, and per-choice means over a set of networks).
    """

    def __init__(self, spec: SpaceSpec, evaluator, base="largest", seed: int = 0, metrics=None):
        self.spec = spec
        self.evaluator = evaluator
        self.metrics = tuple(metrics) if metrics is not None else tuple(evaluator.metrics())
        if not self.metrics:
            raise HarnessError("MathNAS profiles accuracy or hardware costs; the evaluator provides neither")
        if "accuracy" not in self.metrics and not set(self.metrics) <= set(HARDWARE_METRICS):
            raise HarnessError(f"MathNAS profiles accuracy, latency and energy, not {', '.join(self.metrics)}")
        self.base = resolve_base(spec, base)
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        population = getattr(evaluator, "population", None)
        self.population = population() if callable(population) else None   # codes with truth, if not all

    @property
    def hardware_only(self) -> bool:
        """No accuracy to profile (FBNet, OFA): the tables predict latency/energy only."""
        return "accuracy" not in self.metrics

    @property
    def base_code(self) -> np.ndarray:
        return self.base.copy()

    def average_code(self) -> np.ndarray:
        """N_avg of Algorithm 1: per node the choice closest to the node's mean choice size (`size_order`;
        unknown: every node's first choice)."""
        if self.spec.size_order is None:
            return np.zeros(self.spec.num_nodes, dtype=np.int64)
        return np.array([average_choice(f) for f in self.spec.size_order], dtype=np.int64)

    def random_code(self) -> np.ndarray:
        """A seeded uniform code; on a space where some codes have no row (`valid`), redrawn until it and every
        one-block change of it have one, so that it can be swept."""
        for _ in range(10_000):
            code = np.array([int(self.rng.integers(n)) for n in self.spec.num_choices], dtype=np.int64)
            if self.spec.valid is None or self.spec.is_valid(self._changes(code)[0]).all():
                return code
        raise HarnessError(f"space {self.spec.name!r}: 10,000 random codes in a row could not be swept")

    def all_codes(self) -> np.ndarray:
        """Every network with a truth: the space's valid codes, or the table's queryable rows when it holds
        samples."""
        if self.population is not None:
            return self.population
        if self.spec.size > MAX_FULL:
            raise HarnessError(f"space {self.spec.name!r} has {self.spec.size:,} networks; evaluating all of them "
                               f"is refused above {MAX_FULL:,} (use variant 'sampled' or 'single')")
        codes = product_codes(self.spec.num_choices)
        return codes if self.spec.valid is None else codes[self.spec.is_valid(codes)]

    def remaining(self) -> int | None:
        """Evaluations the budget still allows (None: unlimited), so a variant can say what it needs upfront."""
        return getattr(self.evaluator, "remaining", None)

    def evaluate(self, codes) -> dict[str, np.ndarray]:
        """Every profiled metric of `codes`, through the (counting, budgeted) evaluator."""
        codes = as_codes(codes, self.spec.num_choices)
        answerable = getattr(self.evaluator, "answerable", None)
        if callable(answerable):
            ok = answerable(codes)
            if not ok.all():
                where = self.evaluator.where() if hasattr(self.evaluator, "where") else "this benchmark"
                outside, total = (len(np.unique(c, axis=0)) for c in (codes[~ok], codes))
                raise HarnessError(f"MathNAS profiling needs {outside} of its {total} networks outside "
                                   f"what {where} can answer (the table's search rows; the device knows no other "
                                   f"code exactly): profile with `full` or `sampled` (the table's rows), or on a "
                                   f"device that answers any code")
        return {m: np.asarray(self.evaluator(m, codes), dtype=np.float64) for m in self.metrics}

    def sweep(self, context) -> dict[str, tuple[np.ndarray, ...]]:
        """Algorithm 1's inner loop: b[i][j] = M(context, node i = base) - M(context, node i = j).

        Evaluates context with each node set to each choice: 1 + sum_i (n_i - 1) distinct networks."""
        codes, where = self._changes(context)
        values = self.evaluate(codes)
        out = {}
        for m, v in values.items():
            table = [np.zeros(n) for n in self.spec.num_choices]
            for (i, j), x in zip(where, v):
                table[i][j] = x
            out[m] = tuple(t[self.base[i]] - t for i, t in enumerate(table))
        return out

    def _changes(self, context) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The context with each node set to each of its choices, and the (node, choice) of each."""
        context = as_codes(context, self.spec.num_choices)[0]
        codes, where = [], []
        for i, n in enumerate(self.spec.num_choices):
            for j in range(n):
                c = context.copy()
                c[i] = j
                codes.append(c)
                where.append((i, j))
        return np.array(codes), where

    def marginal(self, codes, values: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, ...]]:
        """b[i][j] = mean of M over networks with node i = base - mean over networks with node i = j.

        Over all networks this is exactly the Eq. 3 average of paired differences over every context
        of the other nodes; over a uniform random sample it is an unbiased estimate of it."""
        codes = as_codes(codes, self.spec.num_choices)
        out = {}
        for m, v in values.items():
            tables = []
            for i, n in enumerate(self.spec.num_choices):
                counts = np.bincount(codes[:, i], minlength=n)
                if counts.min() == 0:
                    raise HarnessError(f"profiling saw no network with node {i} = choice {int(np.argmin(counts))}; "
                                       "evaluate more networks (e.g. a larger `fraction`)")
                means = np.bincount(codes[:, i], weights=v, minlength=n) / counts
                tables.append(means[self.base[i]] - means)
            out[m] = tuple(tables)
        return out

    def marginal_anchor(self, codes, values: dict[str, np.ndarray]) -> dict[str, float]:
        """The base network's value under the marginal model of `marginal` (mean + sum of main effects), for
        tables whose base network has no measurement (a table of samples): then
        base - sum_i b[i][x_i] = mean + sum_i (mean over node i = x_i  -  mean), the Eq. 3 additive model."""
        codes = as_codes(codes, self.spec.num_choices)
        out = {}
        for m, v in values.items():
            mean = float(np.mean(v))
            effects = [np.bincount(codes[:, i], weights=v, minlength=n)[self.base[i]] /
                       max(1, int(np.sum(codes[:, i] == self.base[i]))) - mean
                       for i, n in enumerate(self.spec.num_choices)]
            out[m] = mean + float(np.sum(effects))
        return out

    def tables(self, blocks: dict[str, tuple[np.ndarray, ...]], ref_flops: float, variant: str,
               context=None, base_value: dict[str, float] | None = None, info: dict | None = None) -> BlockTables:
        """Finish a variant: measure the base network (unless given) and wrap everything in BlockTables."""
        if base_value is None:
            measured = self.evaluate(self.base_code)
            base_value = {m: float(v[0]) for m, v in measured.items()}
        return BlockTables(variant=variant, num_choices=self.spec.num_choices, base=tuple(self.base),
                           blocks=blocks, base_value=base_value, costs=self.spec.costs if self.spec.has_flops else None,
                           ref_flops=None if ref_flops is None else float(ref_flops),
                           context=None if context is None else tuple(int(c) for c in np.ravel(context)),
                           info=dict(info or {}))


def harmonic_mean_flops(spec: SpaceSpec, codes) -> float | None:
    """Reference FLOPs of an average over networks: if a block's effect scales like 1/FLOPs (Eq. 5),
    the mean effect over networks corresponds to the harmonic mean of their FLOPs. None without FLOPs."""
    if not spec.has_flops:
        return None
    f = spec.flops(codes)
    if np.any(f <= 0):
        raise HarnessError(f"space {spec.name!r}: some network has FLOPs <= 0; Eq. 5 needs FLOPs > 0")
    return float(1.0 / np.mean(1.0 / f))
