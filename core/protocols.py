"""The contract of every plugin kind. One shared test suite per contract lives in tests/contracts/.

Space          blocks x choices, codes <-> the benchmark's own arch strings, rows of its tables, tasks
DeviceProfile  a named source of latency (ms) / energy (mJ) per architecture, with its capabilities
Predictor      fit(oracle) then predict(codes) -> {metric: array}
Searcher       search(problem, oracle) -> SearchResult
Variant        MathNAS block profiling: fn(profiler, **params) -> BlockTables
SolverBackend  solve(ChoiceProblem, time_limit, **options) -> Solution, with its availability

Methods are built as `cls(seed=..., **params)` with explicit keyword parameters (`MethodBase.get_params`
returns them, sklearn-style), and spend evaluations ONLY through the oracle: the budget of a run is the
oracle's, never a constructor argument.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Protocol, runtime_checkable

import numpy as np

from core.errors import HarnessError, one_line, shown
from core.validation import check_limits

HIGHER, LOWER = "higher", "lower"


# --- spaces ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One dataset/task of a space: what its accuracy column means and which split a method may see.

    `search_split` is what the Oracle reveals to methods; `score_split` is what results are scored on.
    They differ where the benchmark has both (e.g. NAS-Bench-Graph: search on valid, score on test).
    On a hardware-only task (`has_accuracy=False`: FBNet, OFA) there is no accuracy column to split, so the
    splits name ROWS of the table (the space's `split_mask(dataset, split)`): e.g. HELP's protocol, methods
    query rows of "train" (the first 4,000 samples) and are scored on rows of "test" (the last 1,000).
    Everything in the harness maximises: `space.accuracy` returns values oriented so that higher is better
    (a lower-is-better metric such as a loss is negated there), and `raw` turns them back for display."""

    name: str
    metric: str = "test accuracy"
    unit: str = "%"
    direction: str = HIGHER
    search_split: str = "test"
    score_split: str = "test"
    seeds: int = 1
    note: str = ""
    has_accuracy: bool = True      # False: a hardware-only benchmark (FBNet, OFA): costs, no accuracy

    def __post_init__(self):
        if self.direction not in (HIGHER, LOWER):
            raise HarnessError(f"task {self.name!r}: direction must be {HIGHER!r} or {LOWER!r}")

    @property
    def higher_is_better(self) -> bool:
        return self.direction == HIGHER

    def raw(self, oriented):
        """The metric as the benchmark reports it, from the oriented (higher-is-better) value."""
        if oriented is None:
            return None
        return oriented if self.direction == HIGHER else -oriented

    def as_dict(self) -> dict:
        return {"name": self.name, "metric": self.metric, "unit": self.unit, "direction": self.direction,
                "search_split": self.search_split, "score_split": self.score_split, "seeds": self.seeds,
                "has_accuracy": self.has_accuracy, "note": self.note}


@dataclass(frozen=True)
class BlockCosts:
    """Exact per-choice costs: a network's cost is `const + sum_i block[i][code[i]]`.

    `flops` are multiply-accumulates (MACs), `params` are trainable parameters; both absolute counts."""

    block_flops: tuple[np.ndarray, ...]
    const_flops: float
    block_params: tuple[np.ndarray, ...]
    const_params: float

    def flops(self, codes) -> np.ndarray:
        return self.const_flops + _gather_sum(self.block_flops, codes)

    def params(self, codes) -> np.ndarray:
        return self.const_params + _gather_sum(self.block_params, codes)


def _gather_sum(blocks, codes) -> np.ndarray:
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    total = np.zeros(codes.shape[0], dtype=np.float64)
    for i, b in enumerate(blocks):
        total += np.asarray(b, dtype=np.float64)[codes[:, i]]
    return total


@runtime_checkable
class Space(Protocol):
    """A search space and the benchmark table behind it.

    Codes are int vectors of length `num_nodes`; node i has `num_choices[i]` choices named
    `choice_names[i]`. Rows: `enumerate()` lists one code per row of the benchmark's tables (every
    architecture when the space is enumerable, the published samples otherwise); `index(codes)` maps any
    code to its row (isomorphic or duplicate codes map to their canonical row; a code the table lacks is a
    one-line error). `sample(k, seed)` draws valid codes of the whole space, seeded."""

    name: str
    num_choices: tuple[int, ...]
    choice_names: tuple[tuple[str, ...], ...]
    skip_from: int | None          # Eq. 9: nodes >= skip_from have a last choice "skip"
    tasks: dict[str, Task]         # datasets/tasks with accuracy; empty for hardware-only spaces
    source: str

    @property
    def size(self) -> int: ...                       # rows of the benchmark table
    @property
    def num_nodes(self) -> int: ...
    def enumerate(self) -> np.ndarray: ...           # (size, m) codes, row order
    def index(self, codes) -> np.ndarray: ...        # row of each code
    def encode(self, arch: str) -> np.ndarray: ...   # the benchmark's own arch string -> code
    def decode(self, code) -> str: ...               # code -> arch string
    def sample(self, k: int, seed: int) -> np.ndarray: ...
    def block_costs(self, dataset: str) -> BlockCosts | None: ...
    def accuracy(self, dataset: str, split: str) -> np.ndarray: ...   # per row, oriented (higher is better)

    # Optional capabilities (checked with hasattr by the methods that need them):
    #   lookup(codes) -> rows, -1 for a valid code the table has no row for (spaces whose rows are published
    #       samples of a larger space: FBNet, OFA); `index` keeps refusing such codes in one line
    #   split_mask(dataset, split) -> bool mask over the rows (hardware-only tasks: which rows a split holds)
    #   size_proxy(dataset) -> per-node arrays of a per-choice size index, where exact FLOPs/params are not
    #       known (`block_costs` is None): used to pick "largest"/"average" choices (MathNAS's base and N_avg,
    #       LANA's teacher) and as the objective of hardware-only optima; never reported as FLOPs
    #   graph(codes, prune) -> (adjacency (K, N, N) bool, node types (K, N) int, -1 = absent); num_node_types
    #       the space's own graph, for BRP-NAS's GCN
    #   valid(codes) -> bool array: which codes of the product space have a row (e.g. NAS-Bench-Graph's all-skip
    #       codes have no stored isomorph); absent = every code is valid. Evolution mutates only into valid codes,
    #       the ILPs of MathNAS and LANA cut invalid picks off (solvers.solve(valid=...))
    #   row_costs(dataset) -> {"flops"|"params": array over rows}: exact published costs when they are not a
    #       per-choice sum (block_costs None); ground truth takes them from here
    #   torch_model(code, dataset) -> torch.nn.Module; input_shape(dataset): live measurement (devices.local)
    #   skip_groups, skip_choice: Eq. 9 beyond the `skip_from` shorthand (core.codes.skip_structure): groups of
    #       nodes whose skipped members form a suffix, and each node's "skip" choice (None: not skippable);
    #       NAS-Bench-Macro's identities inside a stage. core.codes.space_skip_structure reads either form.
    # A space whose block_costs is None (no exact FLOPs) may say `choices_by_size = True` when it lists each
    # node's choices from smallest to largest: methods that need a size order (MathNAS's base and N_avg) then
    # use the listing order; otherwise every node's first choice stands in.
    #   seed_accuracies(dataset) -> (seeds, rows) array, per training seed when Task.seeds > 1, oriented like `accuracy`: the noise ceilings of the
    #       reports (seed-to-seed Kendall tau, regret of picking by one seed; evaluation.evaluate)
    #   data_files -> paths (or a callable giving them): the files the space reads, hashed on the protocol
    #       card (default: every file of <data root>/<space name>/, harness.protocol)


# --- devices --------------------------------------------------------------------------------------------
UNITS = {"latency": "ms", "energy": "mJ"}
ANY_SPACE = "*"   # a coverage key: every space (e.g. analytic FLOPs/params profiles)


@dataclass(frozen=True)
class DeviceProfile:
    """A named source of per-architecture latency (ms) and energy (mJ) on one or more spaces.

    `loader(space, dataset, sources) -> {metric: array over the space's rows}`; NaN means "not measured":
    never feasible, never scored. Capabilities instead of kind strings: `live` profiles measure on this
    machine on demand (`measurer(space, dataset, rows, sources) -> values of those rows`), the others
    only read. `coverage` maps each space the profile serves to the datasets it covers (None = all).
    `exact` maps a space to `fn(space, dataset, codes, sources) -> {metric: values}` when the profile knows
    the exact value of ANY code of that space, row or not (FBNet's per-layer lookup tables): the Oracle then
    answers codes outside the table's rows too (counted like the others)."""

    name: str
    kind: str                      # descriptive: table, analytic, live, file
    metrics: tuple[str, ...]
    source: str
    loader: Callable[..., dict] = field(repr=False, compare=False)
    coverage: dict = field(default_factory=lambda: {"nb201": None}, compare=False)
    units: dict | None = field(default=None, compare=False)
    resolution_ms: float | None = None
    note: str = ""
    live: bool = False
    measurer: Callable[..., np.ndarray] | None = field(default=None, repr=False, compare=False)
    exact: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        given = dict(self.units or {})
        object.__setattr__(self, "units", {m: given.get(m, UNITS.get(m, "")) for m in self.metrics})
        if self.live and self.measurer is None:
            raise HarnessError(f"device {self.name!r}: a live profile needs a measurer")

    def covers(self, space: str, dataset: str | None = None) -> bool:
        if space not in self.coverage and ANY_SPACE not in self.coverage:
            return False
        datasets = self.coverage.get(space, self.coverage.get(ANY_SPACE))
        return dataset is None or datasets is None or dataset in datasets

    def check_covers(self, space: str, dataset: str) -> None:
        if space not in self.coverage and ANY_SPACE not in self.coverage:
            raise HarnessError(f"device {self.name!r} has no measurements on space {space!r}; it covers "
                               f"{', '.join(sorted(self.coverage))}")
        if not self.covers(space, dataset):
            raise HarnessError(f"device {self.name!r} has no measurements for dataset {dataset!r}; it covers "
                               f"{', '.join(self.coverage.get(space, self.coverage.get(ANY_SPACE)))}")

    def values(self, space, dataset: str, sources) -> dict[str, np.ndarray]:
        """The loader's arrays; a loader that crashes (e.g. a plug-in assuming FLOPs on a space without them)
        is a one-line error naming the device and the space, never a traceback."""
        self.check_covers(space.name, dataset)
        try:
            return self.loader(space, dataset, sources)
        except HarnessError:
            raise
        except Exception as e:  # noqa: BLE001 - a plug-in's bug or assumption: one line naming it
            raise HarnessError(f"device {self.name!r} cannot serve space {space.name!r}/{dataset}: "
                               f"{one_line(f'{type(e).__name__}: {e}', 300)}") from None

    def answers_any_code(self, space: str) -> bool:
        """Whether the profile gives exact values for codes outside `space`'s table rows (capability `exact`)."""
        return space in self.exact

    def exact_values(self, space, dataset: str, codes, sources) -> dict[str, np.ndarray]:
        """Exact values of any codes of `space` (profiles with the `exact` capability for it only)."""
        self.check_covers(space.name, dataset)
        if space.name not in self.exact:
            raise HarnessError(f"device {self.name!r} knows only the measured architectures of space {space.name!r}")
        return self.exact[space.name](space, dataset, codes, sources)

    def measure(self, space, dataset: str, rows, sources) -> np.ndarray:
        """Measure `rows` now (live profiles only) and return their latency."""
        if not self.live:
            raise HarnessError(f"device {self.name!r} is a {self.kind} profile; it cannot measure on demand")
        return np.asarray(self.measurer(space, dataset, rows, sources), dtype=np.float64)

    def as_dict(self) -> dict:
        nb201 = self.coverage.get("nb201", self.coverage.get(ANY_SPACE, "none")) if self.covers("nb201") else []
        return {"name": self.name, "kind": self.kind, "live": self.live, "metrics": list(self.metrics),
                "units": dict(self.units), "resolution_ms": self.resolution_ms,
                "datasets": "all" if nb201 is None else list(nb201),   # NAS-Bench-201's, as before spaces
                "spaces": {s: (list(d) if d else "all") for s, d in self.coverage.items()},
                "any_code": sorted(self.exact),
                "source": self.source, "note": self.note}


# --- search problems and methods ------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """Maximise the true (score-split) accuracy on (space, dataset, device) under cost limits."""

    dataset: str
    device: str
    limits: dict = field(default_factory=dict)
    space: str = "nb201"

    def __post_init__(self):
        object.__setattr__(self, "limits", check_limits(self.limits))

    def describe(self, units: dict | None = None) -> str:
        units = units or {}
        lim = ", ".join(f"{k} <= {v:g}{(' ' + units[k]) if units.get(k) else ''}" for k, v in self.limits.items())
        where = f"{self.dataset} on {self.device}" if self.space == "nb201" else \
            f"{self.space}/{self.dataset} on {self.device}"
        return f"{where} ({lim or 'no limits'})"


@dataclass
class SearchResult:
    """What a searcher returns; the harness re-scores `code` with ground truth."""

    code: np.ndarray | None
    predicted: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


class MethodBase:
    """Explicit keyword parameters, stored under their own names, so `get_params` round-trips
    (`type(m)(**m.get_params())` is the same method). Subclasses set `name`, and declare what they can do
    by defining `fit`/`predict` (a Predictor) and/or `search` (a Searcher)."""

    name: ClassVar[str] = ""
    # A constructor parameter that collects the keys the method does not declare (MathNAS hands them to its
    # profiling variant); None: unknown keys are an error.
    extra_params: ClassVar[str | None] = None
    # Rough cost of one cell relative to a cheap searcher: the runner starts expensive cells first, so
    # they overlap the many short ones instead of trailing them.
    relative_cost: ClassVar[float] = 1.0
    # Settings that differ from the method's published ones: "setting: ours (published: theirs)".
    def deviations(self) -> list[str]:
        return []

    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    def get_params(self) -> dict:
        return {p: getattr(self, p) for p in self.param_names()}

    @classmethod
    def can_predict(cls) -> bool:
        return callable(getattr(cls, "predict", None)) and callable(getattr(cls, "fit", None))

    @classmethod
    def can_search(cls) -> bool:
        return callable(getattr(cls, "search", None))


def build_method(cls, name: str, seed: int = 0, params: dict | None = None):
    """`cls(seed=seed, **params)`, with unknown or colliding keys as one-line errors naming them."""
    params = dict(params or {})
    names = cls.param_names() if isinstance(cls, type) and issubclass(cls, MethodBase) else \
        [p for p in inspect.signature(cls).parameters if p != "self"]
    if "seed" in params:
        raise HarnessError(f"method {name!r}: give the seed with --seed (or the suite's seeds), not as a parameter")
    extra = getattr(cls, "extra_params", None)
    unknown = sorted(k for k in params if k not in names)
    if unknown:
        if extra is None:
            valid = [n for n in names if n != "seed"]
            raise HarnessError(f"method {name!r} takes no parameter {shown(unknown[0])}; valid: "
                               f"{', '.join(valid) or 'none'}")
        params = {k: v for k, v in params.items() if k in names} | \
            {extra: {**(params.get(extra) or {}), **{k: params[k] for k in unknown}}}
    try:
        return cls(seed=seed, **params)
    except HarnessError:
        raise
    except (TypeError, ValueError) as e:
        raise HarnessError(f"method {name!r}: bad parameters ({' '.join(str(e).split())})") from None


@runtime_checkable
class Predictor(Protocol):
    def fit(self, oracle) -> Any: ...
    def predict(self, codes) -> dict[str, np.ndarray]: ...


@runtime_checkable
class Searcher(Protocol):
    def search(self, problem: Problem, oracle) -> SearchResult: ...


class Variant(Protocol):
    """A MathNAS block-profiling variant: `fn(prof, **own_params) -> mathnas.blocks.BlockTables`."""

    def __call__(self, prof, **params): ...


# --- solvers --------------------------------------------------------------------------------------------
SOLVER_STATUSES = ("optimal", "feasible", "infeasible", "time_limit", "unavailable", "error")


@dataclass(frozen=True)
class SolverBackend:
    """One ILP backend: `solve(problem, time_limit=..., **options) -> solvers.Solution` (never raises for
    solver trouble: a missing licence is `unavailable`, a crash `error`, both with the reason),
    `available() -> (bool, reason)`, and `suits(problem) -> bool` (whether the harness should pick it by
    default for this problem; the default is the first suitable backend in the preference list)."""

    name: str
    solve: Callable = field(repr=False)
    available: Callable[[], tuple[bool, str]] = field(default=lambda: (True, ""), repr=False)
    suits: Callable = field(default=lambda problem: True, repr=False)
    exact: bool = True
    description: str = ""


def method_class(name: str, entry: str | None = None):
    """The class of a registered method, or of `entry` ("module:Class", a method outside the registry)."""
    from core.registry import METHODS, load_reference

    return load_reference(entry) if entry else METHODS.get(name)


def make_method(name: str, seed: int = 0, entry: str | None = None, **params):
    """Build a method by registry name (or `entry`) with its parameters checked."""
    from core.validation import check_seed

    return build_method(method_class(name, entry), name, check_seed(seed), params)
