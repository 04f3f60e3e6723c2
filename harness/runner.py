"""Suites -> cells -> result store: load and validate a suite file, expand it, run the cells, keep the rows.

A suite (TOML) names spaces, datasets, devices, limits, methods, solvers, seeds and tasks. It is
validated completely before anything runs (one-line HarnessError naming the key path). It expands to
cells; each cell is pure and deterministic given its seed and lands as one row in the result store
(harness.store), keyed by the sha256 of its canonical JSON, so re-runs skip finished cells and an
interrupted run resumes. Cells run serially, in a process pool ("spawn") or on Ray; the driver writes
every row as it completes, whichever executor ran it.

Suite keys (see harness/suites/smoke.toml for a worked example):
  name, description         text
  space | spaces            "nb201" (the only space with enumerable ground truth for now)
  datasets, devices         names (string or list); device/dataset pairs the device does not cover are
                            skipped with a note
  seeds                     a count n (seeds 0..n-1) or a list of seeds
  tasks                     any of "predict", "search", "solvers", "claims" (default: predict and
                            search, plus solvers when a [solvers] table is given); "claims" stores
                            mathnas.claims.claims_table so the report can show it
  sample_size               (true, predicted) pairs kept per predict cell for the scatter plots (500)
  [[limits]]                one constraint family per table: latency/energy/flops/params = number or
                            list, or <metric>_quantiles = quantiles of the device's true distribution;
                            lists in one table are zipped; optional datasets/devices restrict it
  [[methods]]               name (registry), optional label, entry ("module:Class" for a method outside
                            the registry), budget (int or list), tasks, datasets, devices, seeds
                            (overrides); every other key is a method parameter (variant, train_size, ...)
  [solvers] / [[solvers]]   backends, families, seeds, time_limit, ratio: one cell per backend x family x
                            seed, run by solvers.benchmark.run_benchmark
  [measure]                 for local devices (kind "local"): sample, seed, repeats, warmup; measured
                            with devices.local before the cells run; rows_of = method labels whose
                            profiling architectures are measured too (found by fitting them once on the
                            `reference` device, default fpga)
  [[exclude]]               tables of task/dataset/device/method(label)/backend/family to leave out
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import math
import os
import sys
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.store import ResultStore, canonical_json, cell_key

TASKS = ("predict", "search", "solvers", "claims")
SPACES = ("nb201",)
EXECUTORS = ("serial", "process", "ray")
LIMIT_METRICS = ("latency", "energy", "flops", "params")
DEFAULT_SAMPLE = 500
CLOUD_SIZE = 2000  # architectures kept per (dataset, device) for the accuracy-vs-cost figure
# Method keys the runner consumes; all other keys of a [[methods]] table go to the method's constructor.
METHOD_KEYS = ("name", "label", "entry", "budget", "tasks", "datasets", "devices", "seeds")
TOP_KEYS = ("name", "description", "space", "spaces", "datasets", "devices", "seeds", "tasks", "sample_size",
            "limits", "methods", "solvers", "measure", "exclude")
LIMIT_KEYS = LIMIT_METRICS + tuple(f"{m}_quantiles" for m in LIMIT_METRICS) + ("datasets", "devices")
MEASURE_KEYS = {"sample": 100, "seed": 0, "repeats": 5, "warmup": 1, "rows_of": [], "reference": "fpga"}
EXCLUDE_KEYS = ("task", "dataset", "device", "method", "backend", "family")
# Worker threads: one per cell, so cells are independent of the executor and of each other.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


# --- validation helpers --------------------------------------------------------------------------
class _Where:
    """The file and key path of a value, for one-line errors."""

    def __init__(self, file: str, path: str = ""):
        self.file, self.path = file, path

    def __truediv__(self, key) -> "_Where":
        if isinstance(key, int):
            return _Where(self.file, f"{self.path}[{key}]")
        return _Where(self.file, f"{self.path}.{key}" if self.path else str(key))

    def error(self, reason: str) -> HarnessError:
        return HarnessError(f"{self.file}: {self.path}: {reason}" if self.path else f"{self.file}: {reason}")


def _type_name(v) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(v), type(v).__name__)


def _str(v, at: _Where) -> str:
    if not isinstance(v, str) or not v:
        raise at.error(f"must be a non-empty string, got {_type_name(v)} {v!r}")
    return v


def _int(v, at: _Where, minimum: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise at.error(f"must be an integer, got {_type_name(v)} {v!r}")
    if minimum is not None and v < minimum:
        raise at.error(f"must be >= {minimum}, got {v}")
    return v


def _num(v, at: _Where, minimum: float | None = None, maximum: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise at.error(f"must be a finite number, got {_type_name(v)} {v!r}")
    if minimum is not None and v < minimum:
        raise at.error(f"must be >= {minimum:g}, got {v:g}")
    if maximum is not None and v > maximum:
        raise at.error(f"must be <= {maximum:g}, got {v:g}")
    return float(v)


def _list(v, at: _Where, item, allow_scalar: bool = True) -> list:
    if allow_scalar and not isinstance(v, list):
        return [item(v, at)]
    if not isinstance(v, list):
        raise at.error(f"must be a list, got {_type_name(v)} {v!r}")
    if not v:
        raise at.error("must not be empty")
    return [item(x, at / i) for i, x in enumerate(v)]


def _table(v, at: _Where, allowed) -> dict:
    if not isinstance(v, dict):
        raise at.error(f"must be a table, got {_type_name(v)} {v!r}")
    if allowed is not None:
        for k in v:
            if k not in allowed:
                raise (at / k).error(f"unknown key; valid: {', '.join(allowed)}")
    return v


def _choice(valid, kind: str):
    def check(v, at: _Where) -> str:
        _str(v, at)
        if v not in valid:
            raise at.error(f"unknown {kind} {v!r}; valid: {', '.join(sorted(map(str, valid)))}")
        return v
    return check


def _dataset(v, at: _Where) -> str:
    from harness.data import DATASETS

    return _choice(DATASETS, "dataset")(v, at)


def _device(v, at: _Where) -> str:
    from devices.profiles import get_profile

    _str(v, at)
    try:
        get_profile(v)
    except HarnessError as e:
        raise at.error(str(e)) from None
    return v


def _seed_list(v, at: _Where) -> list[int]:
    if isinstance(v, int) and not isinstance(v, bool):
        return list(range(_int(v, at, 1)))
    if not isinstance(v, list):
        raise at.error(f"must be a count of seeds or a list of seeds, got {_type_name(v)} {v!r}")
    return list(dict.fromkeys(_list(v, at, lambda x, a: _int(x, a, 0), allow_scalar=False)))


def _budgets(v, at: _Where) -> list[int | None]:
    if v is None:
        return [None]
    return list(dict.fromkeys(_list(v, at, lambda x, a: _int(x, a, 0))))


# --- the suite -----------------------------------------------------------------------------------------
@dataclass
class MethodSpec:
    name: str
    label: str
    ref: str  # "module:Class", travels with each cell so workers need no registry change
    entry: str | None
    params: dict
    budgets: list
    tasks: list[str]
    datasets: list[str]
    devices: list[str]
    seeds: list[int]


@dataclass
class LimitSpec:
    """One zipped entry of a [[limits]] table: {metric: ("abs" | "q", value)}."""

    parts: dict
    datasets: list[str] | None
    devices: list[str] | None
    where: str


@dataclass
class Suite:
    file: str
    name: str
    description: str
    spaces: list[str]
    datasets: list[str]
    devices: list[str]
    seeds: list[int]
    tasks: list[str]
    sample_size: int
    limits: list[LimitSpec]
    methods: list[MethodSpec]
    solvers: list[dict] | None
    measure: dict
    exclude: list[dict]


def _method_class(name: str, entry: str | None, at: _Where):
    from harness.methods import METHODS, method_class

    if entry is not None:
        if ":" not in entry:
            raise (at / "entry").error(f"must be 'module:Class', got {entry!r}")
        module, cls = entry.split(":", 1)
        try:
            return getattr(importlib.import_module(module), cls), entry
        except (ImportError, AttributeError) as e:
            raise (at / "entry").error(f"cannot import {entry!r} ({e})") from None
    if name not in METHODS:
        raise (at / "name").error(f"unknown method {name!r}; valid: {', '.join(sorted(METHODS))}")
    try:
        return method_class(name), METHODS[name]
    except HarnessError as e:
        raise (at / "name").error(str(e)) from None


def _check_params(cls, name: str, params: dict, at: _Where) -> None:
    """Unknown parameters fail now when the constructor names its parameters (no **kwargs)."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        accepted = None
    else:
        accepted = [p for p in sig.parameters if p not in ("self", "seed")]
    for key, value in params.items():
        if accepted is not None and key not in accepted:
            raise (at / key).error(f"unknown parameter of method {name!r}; valid: "
                                   f"{', '.join(METHOD_KEYS + tuple(accepted))}")
        if key == "solver":
            import solvers

            _choice(solvers.BACKENDS, "solver")(value, at / key)
        if key.endswith(("_size", "epochs", "_budget")) and isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise (at / key).error(f"must be >= 0, got {value}")


def _default_label(name: str, params: dict) -> str:
    variant = params.get("variant")
    return f"{name}-{variant}" if variant else name


def _parse_method(raw, at: _Where, top: dict) -> MethodSpec:
    raw = _table(raw, at, None)
    if "name" not in raw:
        raise (at / "name").error("missing (the method's registry name)")
    name = _str(raw["name"], at / "name")
    entry = None if raw.get("entry") is None else _str(raw["entry"], at / "entry")
    cls, ref = _method_class(name, entry, at)
    params = {k: v for k, v in raw.items() if k not in METHOD_KEYS}
    _check_params(cls, name, params, at)
    try:  # constructing is cheap (no fitting) and catches bad variants, solvers, values now
        cls(seed=0, **params)
    except (HarnessError, TypeError, ValueError, KeyError) as e:
        raise at.error(f"method {name!r} rejects its parameters: {' '.join(str(e).split())}") from None
    supported = [t for t in ("predict", "search") if hasattr(cls, t)]
    if "tasks" in raw:
        tasks = _list(raw["tasks"], at / "tasks", _choice(("predict", "search"), "task"))
        for i, t in enumerate(tasks):
            if t not in supported:
                raise (at / "tasks" / i).error(f"method {name!r} has no {t}()")
    else:
        tasks = supported
    return MethodSpec(
        name=name, label=_str(raw.get("label", _default_label(name, params)), at / "label"), ref=ref, entry=entry,
        params=params, budgets=_budgets(raw.get("budget"), at / "budget"), tasks=tasks,
        datasets=_list(raw["datasets"], at / "datasets", _dataset) if "datasets" in raw else top["datasets"],
        devices=_list(raw["devices"], at / "devices", _device) if "devices" in raw else top["devices"],
        seeds=_seed_list(raw["seeds"], at / "seeds") if "seeds" in raw else top["seeds"])


def _parse_limits(raw, at: _Where) -> list[LimitSpec]:
    tables = raw if isinstance(raw, list) else [raw]
    out = []
    for i, t in enumerate(tables):
        here = at / i if isinstance(raw, list) else at
        t = _table(t, here, LIMIT_KEYS)
        columns = {}
        for metric in LIMIT_METRICS:
            if metric in t and f"{metric}_quantiles" in t:
                raise (here / metric).error(f"give {metric} or {metric}_quantiles, not both")
            if metric in t:
                columns[metric] = [("abs", v) for v in _list(t[metric], here / metric, lambda x, a: _num(x, a, 0))]
            key = f"{metric}_quantiles"
            if key in t:
                columns[metric] = [("q", v) for v in _list(t[key], here / key, lambda x, a: _num(x, a, 0, 1))]
        if not columns:
            raise here.error(f"names no limit; give one of {', '.join(LIMIT_KEYS[:8])}")
        n = max(len(v) for v in columns.values())
        for metric, values in columns.items():
            if len(values) not in (1, n):
                raise (here / metric).error(f"has {len(values)} values but another limit of this table has {n}; "
                                            f"lists in one table are zipped")
        datasets = _list(t["datasets"], here / "datasets", _dataset) if "datasets" in t else None
        devices = _list(t["devices"], here / "devices", _device) if "devices" in t else None
        for j in range(n):
            parts = {m: v[j if len(v) > 1 else 0] for m, v in columns.items()}
            out.append(LimitSpec(parts, datasets, devices, here.path))
    return out


SOLVER_KEYS = ("backends", "families", "seeds", "time_limit", "ratio")


def _parse_solvers(raw, at: _Where, top_seeds: list[int]) -> dict:
    """[solvers]: backends x families x seeds, each cell one solvers.benchmark.run_benchmark call."""
    import solvers

    raw = _table(raw, at, SOLVER_KEYS)
    bench = _solver_benchmark()
    families = tuple(getattr(bench, "FAMILIES", {})) if bench else ()
    out = {"backends": _list(raw.get("backends", sorted(solvers.BACKENDS)), at / "backends",
                             _choice(solvers.BACKENDS, "solver")),
           "families": _list(raw.get("families", list(families)), at / "families",
                             _choice(families, "solver family") if families else _str),
           "seeds": _seed_list(raw["seeds"], at / "seeds") if "seeds" in raw else top_seeds, "options": {}}
    if "time_limit" in raw:
        out["options"]["time_limit"] = _num(raw["time_limit"], at / "time_limit", 0)
        if out["options"]["time_limit"] <= 0:
            raise (at / "time_limit").error(f"must be > 0 seconds, got {raw['time_limit']}")
    if "ratio" in raw:
        out["options"]["ratio"] = _choice(("charnes-cooper", "dinkelbach"), "ratio method")(raw["ratio"], at / "ratio")
    return out


def _parse_solver_groups(raw, at: _Where, top_seeds: list[int]) -> list[dict]:
    """[solvers] (one group) or [[solvers]] (several, e.g. a big family with fewer seeds)."""
    if isinstance(raw, list):
        if not raw:
            raise at.error("must not be empty")
        return [_parse_solvers(g, at / i, top_seeds) for i, g in enumerate(raw)]
    return [_parse_solvers(raw, at, top_seeds)]


def load_suite(path: str | os.PathLike) -> Suite:
    """Read and validate a suite file completely; any problem is one HarnessError naming the key path."""
    p = Path(path)
    label = str(path)
    try:
        raw = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise HarnessError(f"{label}: no such suite file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HarnessError(f"{label}: unreadable suite file ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise HarnessError(f"{label}: invalid TOML ({e})") from None
    return parse_suite(raw, label, default_name=p.stem)


def parse_suite(raw: dict, label: str = "suite", default_name: str = "suite") -> Suite:
    at = _Where(label)
    _table(raw, at, TOP_KEYS)
    if "space" in raw and "spaces" in raw:
        raise (at / "spaces").error("give space or spaces, not both")
    space_key = "spaces" if "spaces" in raw else "space"
    spaces = _list(raw.get(space_key, "nb201"), at / space_key, _choice(SPACES, "space"))
    top = {"datasets": _list(raw["datasets"], at / "datasets", _dataset) if "datasets" in raw else [],
           "devices": _list(raw["devices"], at / "devices", _device) if "devices" in raw else [],
           "seeds": _seed_list(raw.get("seeds", 1), at / "seeds")}
    default_tasks = ["predict", "search"] + (["solvers"] if "solvers" in raw else [])
    tasks = _list(raw.get("tasks", default_tasks), at / "tasks", _choice(TASKS, "task"))
    methods_raw = raw.get("methods", [])
    if not isinstance(methods_raw, list):
        raise (at / "methods").error(f"must be an array of tables ([[methods]]), got {_type_name(methods_raw)}")
    methods = [_parse_method(m, at / "methods" / i, top) for i, m in enumerate(methods_raw)]
    limits = _parse_limits(raw["limits"], at / "limits") if "limits" in raw else []
    solver_groups = _parse_solver_groups(raw["solvers"], at / "solvers", top["seeds"]) \
        if "solvers" in raw and "solvers" in tasks else None
    labels = [m.label for m in methods]
    for i, lab in enumerate(labels):
        if lab in labels[:i]:
            raise (at / "methods" / i / "label").error(f"label {lab!r} is used twice; give each its own label")
    if ("predict" in tasks or "search" in tasks) and not methods:
        raise (at / "methods").error("the predict and search tasks need at least one [[methods]] table")
    if ("predict" in tasks or "search" in tasks) and not (top["datasets"] and top["devices"]) and \
            not all(m.datasets and m.devices for m in methods):
        raise at.error("predict/search need datasets and devices (top level or per method)")
    measure = dict(MEASURE_KEYS)
    if "measure" in raw:
        t = _table(raw["measure"], at / "measure", tuple(MEASURE_KEYS))
        mins = {"sample": 1, "seed": 0, "repeats": 3, "warmup": 0}
        measure.update({k: _int(v, at / "measure" / k, mins[k]) for k, v in t.items() if k in mins})
        if "reference" in t:
            measure["reference"] = _device(t["reference"], at / "measure" / "reference")
        if "rows_of" in t:
            measure["rows_of"] = _list(t["rows_of"], at / "measure" / "rows_of", _choice(labels, "method label"))
    exclude = []
    if "exclude" in raw:
        ex = raw["exclude"]
        if not isinstance(ex, list):
            raise (at / "exclude").error(f"must be an array of tables ([[exclude]]), got {_type_name(ex)}")
        for i, e in enumerate(ex):
            e = _table(e, at / "exclude" / i, EXCLUDE_KEYS)
            exclude.append({k: _str(v, at / "exclude" / i / k) for k, v in e.items()})
    return Suite(
        file=label, name=_str(raw.get("name", default_name), at / "name"),
        description=str(raw.get("description", "")), spaces=spaces, datasets=top["datasets"],
        devices=top["devices"], seeds=top["seeds"], tasks=tasks,
        sample_size=_int(raw.get("sample_size", DEFAULT_SAMPLE), at / "sample_size", 0),
        limits=limits, methods=methods, solvers=solver_groups,
        measure=measure, exclude=exclude)


# --- expansion -------------------------------------------------------------------------------------------
@dataclass
class Cell:
    spec: dict  # canonical content; its sha256 is the key
    key: str
    ref: str | None = None  # method "module:Class" for the worker

    def describe(self) -> str:
        s = self.spec
        if s["task"] == "solvers":
            return f"solvers {s['backend']} {s['family']} seed {s['seed']}"
        parts = [s["task"], s.get("label", ""), f"{s['dataset']}/{s['device']}", s.get("limit_label") or "",
                 f"seed {s['seed']}"]
        return " ".join(p for p in parts if p)


def _solver_benchmark():
    try:
        return importlib.import_module("solvers.benchmark")
    except ModuleNotFoundError as e:
        if e.name == "solvers.benchmark":
            return None
        raise


def _supports(device: str, dataset: str) -> bool:
    from devices.profiles import get_profile

    p = get_profile(device)
    return p.datasets is None or dataset in p.datasets


def _limit_label(parts: dict, values: dict) -> str:
    out = []
    for m, (kind, v) in parts.items():
        out.append(f"{m}<=q{v:g}" if kind == "q" else f"{m}<={v:g}")
    return ",".join(out)


def _excluded(suite: Suite, spec: dict) -> bool:
    for e in suite.exclude:
        if all((spec.get("label") == v or spec.get("method") == v) if k == "method" else spec.get(k) == v
               for k, v in e.items()):
            return True
    return False


def measure_local(suite: Suite, data: str | None = None, progress: bool = True) -> list[str]:
    """Measure a seeded sample on every local device of the suite (cached by devices.local: a re-run is free)."""
    from devices.profiles import get_profile

    notes = []
    pairs = {(dev, ds) for m in suite.methods for dev in m.devices for ds in m.datasets
             if get_profile(dev).kind == "local"}
    if not pairs:
        return notes
    try:
        local = importlib.import_module("devices.local")
    except ModuleNotFoundError:
        return ["devices.local is not available: local devices are not measured"]
    from harness.data import load_tables

    tables = load_tables(data)
    cfg = suite.measure
    for dev, ds in sorted(pairs):
        parsed = local.parse_profile_name(dev) if hasattr(local, "parse_profile_name") else None
        batch, threads = parsed or (1, 1)
        rows = local.sample_rows(cfg["sample"], cfg["seed"])
        extra = _hardware_rows(suite, ds, data)
        rows = np.concatenate([rows, np.setdiff1d(extra, rows)])
        rep = local.measure(tables, rows, ds, batch=batch, threads=threads, repeats=cfg["repeats"],
                            warmup=cfg["warmup"], progress=progress)
        notes.append(f"{dev}/{ds}: {rep.requested} architectures measured on this machine "
                     f"({rep.new} new, {rep.seconds:.1f}s)")
    return notes


def _hardware_rows(suite: Suite, dataset: str, data) -> np.ndarray:
    """Architectures whose hardware metrics the `[measure] rows_of` methods ask for when they fit.

    Found by fitting each once through an oracle on the `reference` device (complete tables) and recording
    the hardware queries; right for methods whose profiling set does not depend on the values seen
    (MathNAS single, LANA), so a live device can be measured on exactly those before the cells run."""
    from harness.groundtruth import ground_truth
    from harness.methods import METHODS, make_method
    from harness.oracle import Oracle

    rows = []
    for m in suite.methods:
        if m.label not in suite.measure["rows_of"]:
            continue
        METHODS.setdefault(m.name, m.ref)
        for seed in m.seeds:
            oracle = Oracle(ground_truth(dataset, suite.measure["reference"], data), budget=m.budgets[0])
            make_method(m.name, seed=seed, **m.params).fit(oracle, m.budgets[0])
            rows.append(oracle.hardware_rows())
    return np.unique(np.concatenate(rows)) if rows else np.empty(0, dtype=np.int64)


def _resolve_limits(suite: Suite, dataset: str, device: str, data, notes: list[str]) -> list[tuple[dict, str]]:
    """Absolute limit sets for one (dataset, device); quantiles of the device's true distribution."""
    from devices.profiles import get_profile
    from harness.groundtruth import ground_truth

    if not suite.limits:
        return [({}, "")]
    gt = ground_truth(dataset, device, data)
    out = []
    for spec in suite.limits:
        if spec.datasets is not None and dataset not in spec.datasets:
            continue
        if spec.devices is not None and device not in spec.devices:
            continue
        missing = [m for m in spec.parts if not gt.has(m)]
        if missing:
            if spec.devices is not None:
                raise HarnessError(f"{suite.file}: {spec.where}: device {device!r} has no {missing[0]} measurements")
            notes.append(f"{spec.where} ({_limit_label(spec.parts, {})}) skipped on {device}: no {missing[0]} measurements")
            continue
        values = {}
        for m, (kind, v) in spec.parts.items():
            if kind == "q":
                arr = gt.metric(m)
                if get_profile(device).kind == "local":  # the suite's own sample: stable while the cache grows
                    from devices.local import sample_rows

                    arr = arr[sample_rows(suite.measure["sample"], suite.measure["seed"])]
                arr = arr[np.isfinite(arr)]
                if arr.size == 0:
                    raise HarnessError(f"{suite.file}: {spec.where}: device {device!r} has no measured {m} on {dataset}")
                values[m] = float(np.quantile(arr, v))
            else:
                values[m] = float(v)
        out.append((values, _limit_label(spec.parts, values)))
    return out


def expand(suite: Suite, data: str | None = None, strict: bool = True) -> tuple[list[Cell], list[str]]:
    """Every cell of the suite (deduplicated, in suite order) and notes on what was skipped and why.

    strict=False (dry runs): limits that cannot be resolved yet (a local device not measured) become
    placeholders with a note instead of an error."""
    cells: dict[str, Cell] = {}
    notes: list[str] = []

    def add(spec: dict, ref: str | None = None):
        if _excluded(suite, spec):
            return
        key = cell_key(spec)
        cells.setdefault(key, Cell(spec, key, ref))

    skipped_pairs = set()
    limits_cache: dict = {}
    gt_pairs = []
    for space in suite.spaces:
        for m in suite.methods:
            for task in [t for t in ("predict", "search") if t in suite.tasks and t in m.tasks]:
                for dataset in m.datasets:
                    for device in m.devices:
                        if not _supports(device, dataset):
                            skipped_pairs.add((device, dataset))
                            continue
                        if task == "search":
                            if (dataset, device) not in limits_cache:
                                try:
                                    resolved = _resolve_limits(suite, dataset, device, data, notes)
                                except HarnessError as e:
                                    if strict:
                                        raise
                                    notes.append(f"{device}/{dataset}: limits unknown until run ({e})")
                                    resolved = [({"unresolved": i}, f"limit set {i}") for i in range(
                                        max(1, len(suite.limits)))]
                                limits_cache[(dataset, device)] = resolved
                                gt_pairs.append((dataset, device))
                            limit_sets = limits_cache[(dataset, device)]
                        else:
                            limit_sets = [(None, None)]
                        for limits, limit_label in limit_sets:
                            for budget in m.budgets:
                                for seed in m.seeds:
                                    spec = {"task": task, "space": space, "dataset": dataset, "device": device,
                                            "method": m.name, "label": m.label, "params": m.params,
                                            "budget": budget, "seed": seed}
                                    if m.entry:
                                        spec["entry"] = m.entry
                                    if task == "search":
                                        spec.update(limits=limits, limit_label=limit_label)
                                    else:
                                        spec["sample_size"] = suite.sample_size
                                    add(spec, m.ref)
        for dataset, device in gt_pairs:  # the truth the figures need, so reports read only the store
            add({"task": "groundtruth", "space": space, "dataset": dataset, "device": device,
                 "sample_size": CLOUD_SIZE, "seed": 0})
    for device, dataset in sorted(skipped_pairs):
        notes.append(f"{device} has no measurements for {dataset}: its cells are skipped")
    if suite.solvers is not None:
        bench = _solver_benchmark()
        if bench is None:
            notes.append("solvers.benchmark is not available: solver cells skipped")
        else:
            for s in suite.solvers:
                for family in s["families"]:
                    for backend in s["backends"]:
                        for seed in s["seeds"]:
                            add({"task": "solvers", "backend": backend, "family": family, "seed": seed,
                                 "options": s["options"]})
    if "claims" in suite.tasks:
        if importlib.util.find_spec("mathnas.claims") is None:
            notes.append("mathnas.claims is not available: the claims cell is skipped")
        else:
            add({"task": "claims", "seed": 0})
    return list(cells.values()), notes


# --- one cell ------------------------------------------------------------------------------------------
def _predict_cell(spec: dict, data) -> dict:
    """predict_report's scores, plus a seeded sample of (true, predicted) pairs for the scatter plots."""
    from harness.evaluate import predict_report

    return predict_report(spec["method"], spec["dataset"], spec["device"], seed=spec["seed"],
                          budget=spec["budget"], data=data, sample_size=spec["sample_size"], **spec["params"])


SEARCH_FIELDS = ("arch", "arch_index", "true_accuracy", "true_latency", "true_energy", "true_flops", "feasible",
                 "optimum_accuracy", "optimum_arch", "regret", "queries", "hw_queries", "search_seconds", "predicted")


def _search_cell(spec: dict, data) -> dict:
    from harness.evaluate import search_report
    from harness.problem import Problem

    problem = Problem(spec["dataset"], spec["device"], spec["limits"])
    rep = search_report(spec["method"], problem, seed=spec["seed"], budget=spec["budget"], data=data,
                        **spec["params"])
    out = {k: rep.get(k) for k in SEARCH_FIELDS}
    extra = {k: v for k, v in rep.items() if k not in SEARCH_FIELDS}
    if extra:
        out["extra"] = extra
    return out


def _groundtruth_cell(spec: dict, data) -> dict:
    """Exact Pareto fronts and a seeded cloud of architectures for the accuracy-vs-cost figures."""
    from harness.groundtruth import ground_truth, pareto_front

    gt = ground_truth(spec["dataset"], spec["device"], data)
    out: dict = {}
    rng = np.random.default_rng(spec["seed"])
    for metric in ("latency", "energy"):
        if not gt.has(metric):
            continue
        cost = gt.metric(metric)
        known = np.flatnonzero(np.isfinite(cost))
        sub = gt if known.size == cost.size else None
        if sub is None:  # local devices: the front of the measured architectures only
            acc, c = gt.accuracy[known], cost[known]
            order = np.lexsort((-acc, c))
            best, keep = -np.inf, []
            for r in order:
                if acc[r] > best:
                    keep.append(known[r])
                    best = acc[r]
            front = np.asarray(keep, dtype=np.int64)
        else:
            front = pareto_front(gt, (metric,))
        cloud = np.sort(rng.permutation(known)[: spec["sample_size"]])
        out[metric] = {"front_rows": front.tolist(), "front_accuracy": gt.accuracy[front].tolist(),
                       "front_cost": cost[front].tolist(), "cloud_accuracy": gt.accuracy[cloud].tolist(),
                       "cloud_cost": cost[cloud].tolist(), "measured": int(known.size)}
    return {"truth": out}


def _solvers_cell(spec: dict, data) -> dict:
    """One backend on every instance of one family (solvers.benchmark); per-instance records kept for the
    report (agreement across backends, time vs size); their wall times sit in the timing column."""
    from dataclasses import asdict

    bench = _solver_benchmark()
    if bench is None:
        raise HarnessError("solvers.benchmark is not available in this build")
    opts = spec.get("options", {})
    records = bench.run_benchmark([spec["family"]], [spec["backend"]], time_limit=opts.get("time_limit", 10.0),
                                  seed=spec["seed"], progress=False, ratio=opts.get("ratio"), data=data)
    recs = [asdict(r) for r in records]
    seconds = [float(r.pop("seconds")) for r in recs]
    for r in recs:
        r.pop("nodes", None)  # search-tree sizes of multi-threaded solvers vary from run to run
    n = len(recs)
    gaps = [r["gap"] for r in recs if r.get("gap") is not None]
    return {"instances": n, "optimal": sum(r["status"] == "optimal" for r in recs),
            "unavailable": sum(r["status"] == "unavailable" for r in recs),
            "agree": sum(bool(r["agree"]) for r in recs), "agree_rate": sum(bool(r["agree"]) for r in recs) / n if n else None,
            "max_gap": max(gaps) if gaps else None, "solve_seconds": sum(seconds),
            "mean_seconds": sum(seconds) / n if n else None, "records": recs, "record_seconds": seconds}


def _claims_cell(spec: dict, data) -> dict:
    """The paper's claims beside ours (mathnas.claims), stored as JSON rows for the report."""
    from mathnas.claims import claims_table

    return {"claims": canonical_json(claims_table(data, seed=spec["seed"]))}


CELL_RUNNERS = {"predict": _predict_cell, "search": _search_cell, "groundtruth": _groundtruth_cell,
                "solvers": _solvers_cell, "claims": _claims_cell}


def _prepare_worker(ctx: dict) -> None:
    """Make this process able to run any cell of the suite: environment, registries, one thread."""
    for k, v in ctx.get("env", {}).items():
        os.environ.setdefault(k, v)
    for p in reversed(ctx.get("sys_path", [])):
        if p not in sys.path:
            sys.path.insert(0, p)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    if ctx.get("device_files"):
        from devices.profiles import get_profile, register
        from devices.user_file import profile_from_file

        for f in ctx["device_files"]:
            prof = profile_from_file(f)
            try:
                get_profile(prof.name)
            except HarnessError:
                register(prof)


def execute(spec: dict, key: str, ref: str | None, ctx: dict) -> dict:
    """Run one cell and return its row; a method that raises gives a failed row, never an exception."""
    from harness.methods import METHODS

    _prepare_worker(ctx)
    if ref is not None and spec.get("method"):
        METHODS.setdefault(spec["method"], ref)
        if spec.get("entry"):
            METHODS[spec["method"]] = ref
    row = {"key": key, "cell": canonical_json(spec), **{k: v for k, v in spec.items()}}
    t0 = time.perf_counter()
    try:
        result = CELL_RUNNERS[spec["task"]](spec, ctx.get("data"))
        row.update(status="ok", error=None)
        row.update({k: v for k, v in result.items() if k not in row})
    except Exception as e:  # noqa: BLE001 - any failure of a method is recorded in its cell
        text = " ".join(f"{type(e).__name__}: {e}".split())
        row.update(status="failed", error=text[:2000])
    row["seconds"] = time.perf_counter() - t0
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    return row


# --- executors -------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _env(values: dict):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _serial(cells, ctx, jobs, address):
    for c in cells:
        yield c, execute(c.spec, c.key, c.ref, ctx)


def _failed_row(cell: Cell, error: BaseException) -> dict:
    return {"key": cell.key, "cell": canonical_json(cell.spec), **cell.spec, "status": "failed",
            "error": " ".join(f"{type(error).__name__}: {error}".split())[:2000], "seconds": 0.0}


def _process(cells, ctx, jobs, address):
    import multiprocessing

    with _env(THREAD_ENV), ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(execute, c.spec, c.key, c.ref, ctx): c for c in cells}
        try:
            for fut in as_completed(futures):
                cell = futures[fut]
                try:
                    yield cell, fut.result()
                except Exception as e:  # a worker died (e.g. out of memory): that cell failed
                    yield cell, _failed_row(cell, e)
        finally:
            for fut in futures:
                fut.cancel()


def _ray(cells, ctx, jobs, address):
    import logging

    import ray

    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            env = {**THREAD_ENV, **ctx.get("env", {}),
                   "PYTHONPATH": os.pathsep.join(p for p in ctx.get("sys_path", []) + [os.environ.get("PYTHONPATH", "")]
                                                 if p)}
            ray.init(num_cpus=jobs, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
                     runtime_env={"env_vars": env})
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(execute)
        pending = {remote.remote(c.spec, c.key, c.ref, ctx): c for c in cells}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                cell = pending.pop(ref)
                try:
                    yield cell, ray.get(ref)
                except Exception as e:  # the task or its worker crashed
                    yield cell, _failed_row(cell, e)
    finally:
        if started:
            ray.shutdown()


EXECUTOR_FUNCS = {"serial": _serial, "process": _process, "ray": _ray}


# --- running a suite ------------------------------------------------------------------------------------
@dataclass
class RunSummary:
    suite: str
    out: Path
    total: int
    ran: int
    skipped: int
    failed: int
    failures: list[tuple[str, str]] = field(default_factory=list)  # (cell, error)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _worker_sys_path() -> list[str]:
    """The project root and any extra import folders of this process (tests, user plug-ins) for workers."""
    root = str(Path(__file__).resolve().parents[1])
    extra = [p for p in sys.path if p and os.path.isdir(p) and "-packages" not in p
             and not p.startswith((sys.base_prefix, sys.prefix))]
    return list(dict.fromkeys([root] + extra))


def run(suite: Suite | str | os.PathLike, out: str | os.PathLike, executor: str = "process", jobs: int | None = None,
        address: str | None = None, data: str | None = None, device_files=(), progress: bool = True) -> RunSummary:
    """Run every cell of `suite` not finished in the store `out`; rows land as they complete."""
    from tqdm import tqdm

    from harness.data import resolve_data_dir

    t0 = time.perf_counter()
    if executor not in EXECUTORS:
        raise HarnessError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if jobs is not None and (isinstance(jobs, bool) or int(jobs) != jobs or jobs < 1):
        raise HarnessError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    jobs = int(jobs or os.cpu_count() or 1)
    if not isinstance(suite, Suite):
        suite = load_suite(suite)
    data_dir = str(resolve_data_dir(data))
    store = ResultStore(out, create=True)  # schema check before any work
    notes = measure_local(suite, data_dir, progress=progress)
    cells, expand_notes = expand(suite, data_dir)
    notes += expand_notes
    store.clean_temp()
    status = store.status()
    todo = [c for c in cells if status.get(c.key) != "ok"]
    skipped = len(cells) - len(todo)
    ctx = {"data": data_dir, "device_files": [str(f) for f in device_files if f],
           "env": {k: v for k, v in os.environ.items() if k.startswith("MATHNAS_BENCH")},
           "sys_path": _worker_sys_path()}
    summary = RunSummary(suite.name, Path(out), len(cells), 0, skipped, 0, notes=notes)
    if todo:
        func = EXECUTOR_FUNCS[executor]
        runner = func(todo, ctx, min(jobs, len(todo)) if executor == "process" else jobs, address)
        with _env(THREAD_ENV if executor == "serial" else {}), \
                tqdm(total=len(todo), desc=suite.name, unit="cell", file=sys.stderr, disable=not progress,
                     dynamic_ncols=True) as bar:
            try:
                for cell, row in runner:
                    store.write(row)
                    summary.ran += 1
                    if row["status"] != "ok":
                        summary.failed += 1
                        summary.failures.append((cell.describe(), row.get("error") or ""))
                        bar.set_postfix(failed=summary.failed)
                    bar.update(1)
            finally:
                close = getattr(runner, "close", None)
                if close:
                    close()
    if summary.ran or not (Path(out) / "results.parquet").is_file():
        store.export()
    summary.seconds = time.perf_counter() - t0
    return summary


def plan(suite: Suite | str | os.PathLike, out: str | os.PathLike | None = None, data: str | None = None) -> dict:
    """What `run` would do, without running anything (cells per task, already done, notes)."""
    from harness.data import resolve_data_dir

    if not isinstance(suite, Suite):
        suite = load_suite(suite)
    cells, notes = expand(suite, str(resolve_data_dir(data)), strict=False)
    done = set()
    if out is not None and Path(out).is_dir():
        done = {k for k, s in ResultStore(out).status().items() if s == "ok"}
    per_task: dict[str, int] = {}
    for c in cells:
        per_task[c.spec["task"]] = per_task.get(c.spec["task"], 0) + 1
    return {"suite": suite.name, "cells": len(cells), "per_task": per_task,
            "done": sum(c.key in done for c in cells), "notes": notes}
