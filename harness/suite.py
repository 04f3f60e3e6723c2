"""Suite files (TOML): a declarative schema (pydantic v2, unknown keys forbidden), validated completely
before anything runs. Every error is one line naming the file and the key path (`methods[2].budget: ...`).

Keys (see harness/suites/smoke.toml for a worked example; `mathnas-bench suite schema` prints the JSON Schema):
  name, description         text
  space | spaces            registered spaces (default "nb201"); a method may narrow them with its own `spaces`
  datasets, devices         names (string or list); (space, dataset, device) triples the device or space does
                            not cover are skipped with a note
  seeds                     a count n (seeds 0..n-1) or a list of seeds
  tasks                     any of "predict", "search", "solvers", "claims" (default: predict and search, plus
                            solvers when a [solvers] table is given)
  sample_size               (true, predicted) pairs kept per predict cell for the scatter plots (500)
  [hardware]                regimes ("free", "charged", "blind"; a list runs each), cost (charged: evaluations
                            per hardware measurement, 0.1), budget (blind: hardware measurements, default the
                            evaluation budget) -- the same for every method of the suite
  [[limits]]                one constraint family per table: latency/energy/flops/params = number or list, or
                            <metric>_quantiles = quantiles of the device's true distribution; lists in one table
                            are zipped; optional spaces/datasets/devices restrict it
  [[methods]]               name (registry), optional label, entry ("module:Class" outside the registry),
                            budget (int or list; `train_size` is its older spelling), tasks, spaces, datasets,
                            devices, seeds (overrides); every other key is a method parameter
  [solvers] / [[solvers]]   backends, families, seeds, time_limit, ratio
  [measure]                 live devices: sample, seed, repeats, warmup, rows_of (method labels whose profiling
                            architectures are measured too), reference (a complete device to find them on)
  [[exclude]]               tables of task/space/dataset/device/limit (its label, e.g. "latency<=q0.25")/
                            method(label)/backend/family/regime/budget to leave out
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator,
                      model_validator)

from core.errors import HarnessError, one_line, shown
from core.oracle import REGIMES
from core.protocols import build_method, method_class
from core.registry import FAMILIES, SPACES
from core.validation import COST_METRICS, MAX_SEED
from devices import get_profile
from solvers import backend_names
from spaces import load_space

TASKS = ("predict", "search", "solvers", "claims")
RATIOS = ("charnes-cooper", "dinkelbach")
DEFAULT_SAMPLE = 500
MAX_SEEDS = 1000            # seeds per suite (a typo of 10**8 would otherwise expand for minutes)
MAX_CELLS = 200_000         # cells per suite, checked before expansion
MAX_FILE_BYTES = 1_000_000  # a suite is a few kilobytes; anything this big is a mistake
DAGGER = "†"   # marks a label whose method deviates from its published settings

Names = Union[str, list[str]]
Cost = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Quantile = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Budget = Annotated[int, Field(ge=1)]


def limit_label(parts: dict) -> str:
    """How a limit set is named in cells and tables: latency<=q0.25 (a quantile) or latency<=4 (absolute)."""
    return ",".join(f"{m}<=q{v:g}" if kind == "q" else f"{m}<={v:g}" for m, (kind, v) in parts.items())


def _names(v, what: str) -> list[str]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items:
        raise ValueError(f"must be a non-empty string or list of strings, got {shown(v)}")
    for x in items:
        if not isinstance(x, str) or not x:
            raise ValueError(f"{what} must be non-empty strings, got {shown(x)}")
    return list(dict.fromkeys(items))


def _registered(v, kind: str, valid: list[str]) -> list[str]:
    """Names that must all be registered; the error points at the first unknown one (`[i]`)."""
    names = _names(v, kind)
    for i, n in enumerate(names):
        if n not in valid:
            raise ValueError(f"@[{i}]: unknown {kind} {shown(n)}; valid: {', '.join(valid)}")
    return names


def _seeds(v) -> list[int]:
    if isinstance(v, bool):
        raise ValueError(f"must be a count of seeds or a list of seeds, got {shown(v)}")
    if isinstance(v, int):
        if not 1 <= v <= MAX_SEEDS:
            raise ValueError(f"a count of seeds must be in 1..{MAX_SEEDS}, got {v}")
        return list(range(v))
    if not isinstance(v, list) or not v:
        raise ValueError(f"must be a count of seeds or a non-empty list of seeds, got {shown(v)}")
    if len(v) > MAX_SEEDS:
        raise ValueError(f"at most {MAX_SEEDS} seeds, got {len(v)}")
    for x in v:
        if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= MAX_SEED:
            raise ValueError(f"seeds must be whole numbers in 0..{MAX_SEED}, got {shown(x)}")
    return list(dict.fromkeys(v))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=False)


class Hardware(Strict):
    regimes: list[Literal["free", "charged", "blind"]] = Field(default_factory=lambda: ["free"], min_length=1)
    cost: float = Field(0.1, ge=0, le=1000, allow_inf_nan=False)
    budget: int | None = Field(None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _regime_alias(cls, data):
        if isinstance(data, dict) and "regime" in data:
            data = dict(data)
            if "regimes" in data:
                raise ValueError("give regime or regimes, not both")
            data["regimes"] = data.pop("regime")
        if isinstance(data, dict) and isinstance(data.get("regimes"), str):
            data = {**data, "regimes": [data["regimes"]]}
        return data


class LimitTable(Strict):
    latency: Cost | list[Cost] | None = None
    energy: Cost | list[Cost] | None = None
    flops: Cost | list[Cost] | None = None
    params: Cost | list[Cost] | None = None
    latency_quantiles: Quantile | list[Quantile] | None = None
    energy_quantiles: Quantile | list[Quantile] | None = None
    flops_quantiles: Quantile | list[Quantile] | None = None
    params_quantiles: Quantile | list[Quantile] | None = None
    spaces: Names | None = None
    datasets: Names | None = None
    devices: Names | None = None
    _columns: dict = PrivateAttr(default_factory=dict)
    _n: int = PrivateAttr(0)

    @model_validator(mode="after")
    def _check(self):
        columns = {}
        for metric in COST_METRICS:
            absolute, quant = getattr(self, metric), getattr(self, f"{metric}_quantiles")
            if absolute is not None and quant is not None:
                raise ValueError(f"@{metric}: give {metric} or {metric}_quantiles, not both")
            values = absolute if absolute is not None else quant
            if values is None:
                continue
            values = values if isinstance(values, list) else [values]
            if not values:
                raise ValueError(f"@{metric}: must not be empty")
            columns[metric] = [("q" if quant is not None else "abs", float(v)) for v in values]
        if not columns:
            raise ValueError("names no limit; give one of latency, energy, flops, params or <metric>_quantiles")
        n = max(len(v) for v in columns.values())
        for metric, values in columns.items():
            if len(values) not in (1, n):
                key = metric if getattr(self, metric) is not None else f"{metric}_quantiles"
                raise ValueError(f"@{key}: has {len(values)} values but another limit of this table has {n}; "
                                 f"lists in one table are zipped")
        self._columns, self._n = columns, n
        for key in ("spaces", "datasets", "devices"):
            v = getattr(self, key)
            if v is not None:
                setattr(self, key, _names(v, key))
        return self

    def entries(self) -> list[dict]:
        """The zipped limit sets: [{metric: ("abs" | "q", value)}]."""
        return [{m: v[j if len(v) > 1 else 0] for m, v in self._columns.items()} for j in range(self._n)]


class SolverGroup(Strict):
    backends: Names | None = None
    families: Names | None = None
    seeds: int | list[int] | None = None
    time_limit: float = Field(10.0, gt=0, le=86_400, allow_inf_nan=False)
    ratio: Literal["charnes-cooper", "dinkelbach"] | None = None

    @field_validator("backends")
    @classmethod
    def _backends(cls, v):
        return None if v is None else _registered(v, "solver", backend_names())

    @field_validator("families")
    @classmethod
    def _families(cls, v):
        return None if v is None else _registered(v, "solver family", FAMILIES.names())

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_list(cls, v):
        return None if v is None else _seeds(v)


class Measure(Strict):
    sample: int = Field(100, ge=1, le=100_000)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    repeats: int = Field(5, ge=3, le=1000)
    warmup: int = Field(1, ge=0, le=1000)
    rows_of: Names = Field(default_factory=list)
    reference: str = "fpga"


class Exclude(Strict):
    task: str | None = None
    space: str | None = None
    dataset: str | None = None
    device: str | None = None
    limit: str | None = None
    regime: Literal["free", "charged", "blind"] | None = None
    method: str | None = None
    backend: str | None = None
    family: str | None = None
    budget: Budget | None = None

    def matches(self, spec: dict) -> bool:
        for key, value in self.model_dump(exclude_none=True).items():
            if key == "limit":
                if spec.get("limit_label") != value:
                    return False
            elif key == "regime":
                if spec.get("regime", "free") != value:
                    return False
            elif key == "method":
                label = str(spec.get("label", "")).replace(DAGGER, "")
                if label != value.replace(DAGGER, "") and spec.get("method") != value:
                    return False
            elif spec.get(key) != value:
                return False
        return True


class MethodEntry(BaseModel):
    """One [[methods]] table: the runner's keys, and every other key a parameter of the method."""

    model_config = ConfigDict(extra="allow", strict=True)
    name: str = Field(min_length=1)
    label: str | None = Field(None, min_length=1, max_length=200)
    entry: str | None = None
    budget: Budget | list[Budget] | None = None
    train_size: Budget | None = None
    tasks: list[Literal["predict", "search"]] | Literal["predict", "search"] | None = None
    spaces: Names | None = None
    datasets: Names | None = None
    devices: Names | None = None
    seeds: int | list[int] | None = None
    regimes: list[Literal["free", "charged", "blind"]] | Literal["free", "charged", "blind"] | None = None
    _deviations: list = PrivateAttr(default_factory=list)

    @field_validator("budget")
    @classmethod
    def _budget(cls, v):
        if v is None:
            return None
        values = v if isinstance(v, list) else [v]
        if not values:
            raise ValueError("must not be empty")
        return list(dict.fromkeys(values))

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_list(cls, v):
        return None if v is None else _seeds(v)

    @model_validator(mode="after")
    def _build(self):
        if self.train_size is not None:   # the older spelling of budget
            if self.budget is not None and self.budget != [self.train_size]:
                raise ValueError(f"train_size {self.train_size} and budget {self.budget} disagree "
                                 f"(train_size is the older spelling of budget)")
            self.budget = [self.train_size]
        for key in ("spaces", "datasets", "devices"):
            v = getattr(self, key)
            if v is not None:
                setattr(self, key, _names(v, key))
        if isinstance(self.tasks, str):
            self.tasks = [self.tasks]
        if isinstance(self.regimes, str):
            self.regimes = [self.regimes]
        try:
            cls = method_class(self.name, self.entry)
        except HarnessError as e:
            raise ValueError(f"@{'entry' if self.entry else 'name'}: {e}") from None
        try:
            built = build_method(cls, self.name, 0, self.params)   # cheap: catches unknown and bad parameters now
        except HarnessError as e:
            raise ValueError(f"@{_culprit(cls, self.name, self.params)}: {e}") from None
        deviations = getattr(built, "deviations", None)
        self._deviations = list(deviations()) if callable(deviations) else []
        supported = [t for t in ("predict", "search") if callable(getattr(cls, t, None))]
        for t in self.tasks or []:
            if t not in supported:
                raise ValueError(f"method {self.name!r} has no {t}()")
        self.tasks = self.tasks or supported
        return self

    @property
    def params(self) -> dict:
        return dict(self.model_extra or {})

    @property
    def deviations(self) -> list[str]:
        """Settings that differ from the method's published ones (its `deviations()`)."""
        return list(self._deviations)

    @property
    def given_label(self) -> str:
        """The label as written (or made from name and variant), without the deviation mark."""
        if self.label:
            return self.label
        variant = self.params.get("variant")
        return f"{self.name}-{variant}" if variant else self.name

    @property
    def display(self) -> str:
        """The label in every table: a method off its published settings carries a "†"."""
        base = self.given_label
        return base + DAGGER if self._deviations and DAGGER not in base else base


def _culprit(cls, name: str, params: dict) -> str:
    """The parameter a constructor rejects: the first one without which it builds (else the method itself)."""
    for key in params:
        try:
            build_method(cls, name, 0, {k: v for k, v in params.items() if k != key})
            return key
        except HarnessError:
            continue
    return "name"


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str = ""
    space: str | None = None
    spaces: Names | None = None
    datasets: Names | None = None
    devices: Names | None = None
    seeds: int | list[int] = Field(default_factory=lambda: [0])
    tasks: list[Literal["predict", "search", "solvers", "claims"]] | Literal[
        "predict", "search", "solvers", "claims"] | None = None
    sample_size: int = Field(DEFAULT_SAMPLE, ge=0, le=100_000)
    hardware: Hardware = Field(default_factory=Hardware)
    limits: LimitTable | list[LimitTable] | None = None
    methods: list[MethodEntry] = Field(default_factory=list)
    solvers: SolverGroup | list[SolverGroup] | None = None
    measure: Measure = Field(default_factory=Measure)
    exclude: list[Exclude] = Field(default_factory=list)
    _file: str = PrivateAttr("suite")

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_list(cls, v):
        return _seeds(v)

    @property
    def file(self) -> str:
        return self._file

    @model_validator(mode="after")
    def _normalise(self):
        if self.space is not None and self.spaces is not None:
            raise ValueError("give space or spaces, not both")
        self.spaces = _names(self.spaces if self.spaces is not None else (self.space or "nb201"), "spaces")
        for key in ("datasets", "devices"):
            v = getattr(self, key)
            setattr(self, key, [] if v is None else _names(v, key))
        if self.tasks is None:
            self.tasks = ["predict", "search"] + (["solvers"] if self.solvers is not None else [])
        elif isinstance(self.tasks, str):
            self.tasks = [self.tasks]
        self.limits = [] if self.limits is None else self.limits if isinstance(self.limits, list) else [self.limits]
        groups = [] if self.solvers is None else self.solvers if isinstance(self.solvers, list) else [self.solvers]
        if isinstance(self.solvers, list) and not self.solvers:
            raise ValueError("solvers: must not be empty")
        self.solvers = groups if "solvers" in self.tasks else []
        labels = [m.display for m in self.methods]
        for i, (lab, m) in enumerate(zip(labels, self.methods)):
            for j in range(i):
                if labels[j] == lab and set(self.methods[j].tasks) & set(m.tasks):
                    raise ValueError(f"methods[{i}].label: label {lab!r} is used twice for the same task; give each "
                                     f"its own label")
            for r in m.regimes or []:
                if r not in self.hardware.regimes:
                    raise ValueError(f"methods[{i}].regimes: {r!r} is not one of the suite's [hardware] regimes "
                                     f"({', '.join(self.hardware.regimes)})")
        labels += [m.given_label for m in self.methods]
        for i, name in enumerate(self.measure.rows_of):
            if name not in labels:
                raise ValueError(f"measure.rows_of[{i}]: unknown method label {name!r}; valid: {', '.join(labels)}")
        return self

    # --- derived views --------------------------------------------------------------------------------
    def method_spaces(self, m: MethodEntry) -> list[str]:
        return m.spaces or self.spaces

    def method_datasets(self, m: MethodEntry) -> list[str]:
        return m.datasets or self.datasets

    def method_devices(self, m: MethodEntry) -> list[str]:
        return m.devices or self.devices

    def method_seeds(self, m: MethodEntry) -> list[int]:
        return m.seeds if m.seeds is not None else self.seeds

    def method_regimes(self, m: MethodEntry) -> list[str]:
        return m.regimes or self.hardware.regimes

    def solver_seeds(self, g: SolverGroup) -> list[int]:
        return g.seeds if g.seeds is not None else self.seeds

    def excluded(self, spec: dict) -> bool:
        return any(e.matches(spec) for e in self.exclude)

    def excludes_triple(self, space: str, dataset: str, device: str, task: str) -> bool:
        """Whether an [[exclude]] table naming only task/space/dataset/device leaves this whole triple out
        (then its limits are not even resolved: a device `none` has no latency quantiles to compute)."""
        spec = {"task": task, "space": space, "dataset": dataset, "device": device}
        return any(set(e.model_dump(exclude_none=True)) <= set(spec) and e.matches(spec) for e in self.exclude)

    def estimated_cells(self, tasks_of: dict[str, set] | None = None) -> int:
        """An upper bound of the cells, computed before expanding anything (`tasks_of`: each space's datasets,
        so that a suite of several spaces counts only the datasets each one has)."""
        def per_space(m, space: str) -> int:
            limits = max(1, sum(t._n for t in self.limits if t.spaces is None or space in t.spaces))
            datasets = [d for d in self.method_datasets(m) if tasks_of is None or d in tasks_of.get(space, (d,))]
            return len(datasets) * limits

        n = sum(
            len(self.method_regimes(m)) * sum(per_space(m, s) for s in self.method_spaces(m)) *
            len(self.method_devices(m)) * len(m.tasks) * len(m.budget or [None]) * len(self.method_seeds(m))
            for m in self.methods)
        n += sum(len(g.backends or backend_names()) * len(g.families or FAMILIES.names()) * len(self.solver_seeds(g))
                 for g in self.solvers)
        return n


def _location(loc: tuple) -> str:
    """`methods[2].budget` from pydantic's loc, leaving out its type tags (`constrained-int`, `list[...]`)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).isidentifier() and not str(part)[0].isupper() and part not in ("str", "int", "float", "bool"):
            out += ("." if out else "") + str(part)
    return out


def _models_in(annotation) -> list[type]:
    """The pydantic models an annotation can hold (through Optional, unions and lists)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _keys_at(loc: tuple) -> list[str]:
    """The keys valid at a key path (for "unknown key; valid: ..." messages)."""
    model = Suite
    for part in loc:
        if isinstance(part, int) or part not in model.model_fields:
            continue
        inner = _models_in(model.model_fields[part].annotation)
        if not inner:
            break
        model = inner[0]
    return list(model.model_fields)


def _format(e: ValidationError, label: str) -> HarnessError:
    """The most specific error (deepest key path: for `a | list[a]` unions, the branch that got furthest)."""
    errors = e.errors(include_url=False)
    first = max(errors, key=lambda err: (len(err["loc"]), -errors.index(err)))
    where = _location(first["loc"])
    msg = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if msg.startswith("@"):   # a model-level check naming the key (or [index]) it is about
        key, _, msg = msg[1:].partition(": ")
        where = f"{where}{key}" if key.startswith("[") else f"{where}.{key}" if where else key
    ctx = first.get("ctx") or {}
    friendly = {"greater_than_equal": f"must be >= {ctx.get('ge'):g}" if "ge" in ctx else "",
                "greater_than": f"must be > {ctx.get('gt'):g}" if "gt" in ctx else "",
                "less_than_equal": f"must be <= {ctx.get('le'):g}" if "le" in ctx else "",
                "less_than": f"must be < {ctx.get('lt'):g}" if "lt" in ctx else "",
                "literal_error": f"unknown value; valid: {ctx.get('expected')}",
                "int_type": "must be an integer", "float_type": "must be a number", "string_type": "must be a string",
                "bool_type": "must be true or false", "list_type": "must be a list", "dict_type": "must be a table",
                "model_type": "must be a table", "finite_number": "must be a finite number",
                "too_short": "must not be empty"}
    msg = friendly.get(first["type"], msg)
    if first["type"] == "extra_forbidden":
        msg = f"unknown key; valid: {', '.join(_keys_at(first['loc'][:-1]))}"
    elif first["type"] == "missing":
        msg = "missing"
    got = first.get("input")
    if first["type"] not in ("value_error", "extra_forbidden", "missing") and got is not None and \
            not isinstance(got, (dict, list)):
        msg += f", got {got!r}" if isinstance(got, (int, float)) and not isinstance(got, bool) else f", got {shown(got)}"
    return HarnessError(f"{label}: {where}: {one_line(msg, 400)}" if where else f"{label}: {one_line(msg, 400)}")


def parse_suite(raw: dict, label: str = "suite", default_name: str = "suite", sources=None) -> Suite:
    """Validate a suite document completely (names against the registries and the data) or raise one line."""
    if not isinstance(raw, dict):
        raise HarnessError(f"{label}: a suite must be a TOML table")
    try:
        suite = Suite.model_validate(raw)
    except ValidationError as e:
        raise _format(e, label) from None
    except RecursionError:
        raise HarnessError(f"{label}: nested too deeply") from None
    if suite.name is None:
        suite.name = default_name
    suite._file = label
    tasks_of = _check_names(suite, label, sources)
    if ("predict" in suite.tasks or "search" in suite.tasks) and not suite.methods:
        raise HarnessError(f"{label}: methods: the predict and search tasks need at least one [[methods]] table")
    if ("predict" in suite.tasks or "search" in suite.tasks) and \
            not all(suite.method_datasets(m) and suite.method_devices(m) for m in suite.methods):
        raise HarnessError(f"{label}: predict/search need datasets and devices (top level or per method)")
    n = suite.estimated_cells(tasks_of)
    if n > MAX_CELLS:
        raise HarnessError(f"{label}: expands to about {n:,} cells, more than the {MAX_CELLS:,} a suite may have; "
                           f"use fewer seeds, budgets, limits or devices")
    return suite


def _check_names(suite: Suite, label: str, sources) -> None:
    """Spaces, datasets and devices against the registries and the data they read (key path in errors)."""
    def fail(where: str, msg: str):
        raise HarnessError(f"{label}: {where}: {msg}")

    loaded = {}
    for where, names in [("spaces", suite.spaces)] + [(f"methods[{i}].spaces", m.spaces or [])
                                                     for i, m in enumerate(suite.methods)] + \
            [(f"limits[{i}].spaces", t.spaces or []) for i, t in enumerate(suite.limits)]:
        for j, s in enumerate(names):
            if s not in SPACES:
                fail(f"{where}[{j}]",
                     f"unknown space {shown(s)}; valid: {', '.join(SPACES.names())}")
            if s not in loaded:
                try:
                    loaded[s] = load_space(s, sources)
                except HarnessError as e:
                    fail(where, str(e))
    every_task = {t for sp in loaded.values() for t in sp.tasks}
    checks = [("datasets", suite.datasets, "dataset"), ("devices", suite.devices, "device")]
    for i, m in enumerate(suite.methods):
        checks += [(f"methods[{i}].datasets", m.datasets or [], "dataset"),
                   (f"methods[{i}].devices", m.devices or [], "device")]
    for i, t in enumerate(suite.limits):
        checks += [(f"limits[{i}].datasets", t.datasets or [], "dataset"), (f"limits[{i}].devices", t.devices or [],
                                                                            "device")]
    for i, e in enumerate(suite.exclude):
        if e.dataset:
            checks.append((f"exclude[{i}].dataset", [e.dataset], "dataset"))
        if e.device:
            checks.append((f"exclude[{i}].device", [e.device], "device"))
        if e.space and e.space not in SPACES:
            fail(f"exclude[{i}].space", f"unknown space {shown(e.space)}")
        labels = {limit_label(parts) for t in suite.limits for parts in t.entries()}
        if e.limit and e.limit not in labels:
            fail(f"exclude[{i}].limit", f"names no limit set of this suite ({shown(e.limit)}); valid: "
                                        f"{', '.join(sorted(labels)) or 'none'}")
        if e.method and e.method not in {m.display for m in suite.methods} | {m.name for m in suite.methods} | \
                {m.given_label for m in suite.methods}:
            fail(f"exclude[{i}].method", f"names no method of this suite ({shown(e.method)})")
    for where, names, kind in checks:
        for j, n in enumerate(names):
            at = f"{where}[{j}]"
            if kind == "dataset" and n not in every_task:
                fail(at, f"unknown dataset {shown(n)}; valid: {', '.join(sorted(every_task))}")
            if kind == "device":
                try:
                    p = get_profile(n, sources)
                except HarnessError as e:
                    fail(at, str(e))
                if not any(p.covers(s) for s in loaded):
                    fail(at, f"device {n!r} covers none of the suite's spaces ({', '.join(loaded)})")
    try:
        get_profile(suite.measure.reference, sources)
    except HarnessError as e:
        fail("measure.reference", str(e))
    used = set(suite.devices) | {d for m in suite.methods for d in (m.devices or [])}
    for i, t in enumerate(suite.limits):   # a limit for a device nothing runs on would be ignored silently
        for j, d in enumerate(t.devices or []):
            if d not in used:
                fail(f"limits[{i}].devices[{j}]", f"device {d!r} is not among the suite's devices "
                                                  f"({', '.join(sorted(used)) or 'none'})")
    return {name: set(sp.tasks) for name, sp in loaded.items()}


def load_suite(path: str | os.PathLike, sources=None) -> Suite:
    """Read and validate a suite file completely; any problem is one HarnessError naming the key path."""
    p = Path(path)
    label = str(path)
    if not p.exists():
        raise HarnessError(f"{label}: no such suite file")
    if not p.is_file():
        raise HarnessError(f"{label}: not a regular file")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise HarnessError(f"{label}: {p.stat().st_size:,} bytes; a suite file may have at most {MAX_FILE_BYTES:,}")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise HarnessError(f"{label}: unreadable suite file ({one_line(e, 200)})") from None
    except tomllib.TOMLDecodeError as e:
        raise HarnessError(f"{label}: invalid TOML ({one_line(e, 300)})") from None
    except RecursionError:
        raise HarnessError(f"{label}: nested too deeply") from None
    return parse_suite(raw, label, default_name=p.stem, sources=sources)


def schema() -> dict[str, Any]:
    """The JSON Schema of a suite document (for editors)."""
    doc = Suite.model_json_schema()
    doc["title"] = "mathnas-bench suite"
    return doc
