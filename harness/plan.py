"""Planning: a validated suite -> cells (pure, deterministic given their seed), plus notes on what was skipped.

A cell's spec is canonical JSON; its sha256 is the key of its row in the result store, so re-runs skip
finished cells. Limits given as quantiles are resolved here against the device's true distribution
(live devices: over the suite's measured sample), and live devices are measured before the cells run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import HarnessError
from core.oracle import Oracle
from core.protocols import make_method
from core.registry import FAMILIES
from core.sources import Sources
from devices import get_profile, local
from evaluation.groundtruth import ground_truth
from harness.store import cell_key
from harness.suite import Suite, limit_label
from solvers import backend_names
from spaces import load_space

CLOUD_SIZE = 2000  # architectures kept per (space, dataset, device) for the accuracy-vs-cost figure


@dataclass
class Cell:
    spec: dict  # canonical content; its sha256 is the key
    key: str

    def describe(self) -> str:
        s = self.spec
        if s["task"] == "solvers":
            return f"solvers {s['backend']} {s['family']} seed {s['seed']}"
        if s["task"] == "claims":
            return "claims"
        where = f"{s['dataset']}/{s['device']}" if s.get("space", "nb201") == "nb201" else \
            f"{s['space']}/{s['dataset']}/{s['device']}"
        parts = [s["task"], s.get("label", ""), where, s.get("limit_label") or "",
                 s.get("regime", "") if s.get("regime", "free") != "free" else "", f"seed {s['seed']}"]
        return " ".join(str(p) for p in parts if p)


def _applies(values, name) -> bool:
    return values is None or name in values


def _live_sample(suite: Suite, space) -> np.ndarray:
    return local.sample_rows(min(suite.measure.sample, space.size), suite.measure.seed, space.size)


def resolve_limits(suite: Suite, space_name: str, dataset: str, device: str, sources,
                   notes: list[str]) -> list[tuple[dict, str]]:
    """Absolute limit sets for one (space, dataset, device); quantiles of the device's true distribution."""
    if not suite.limits:
        return [({}, "")]
    tables = [(i, t) for i, t in enumerate(suite.limits)
              if _applies(t.spaces, space_name) and _applies(t.datasets, dataset) and _applies(t.devices, device)]
    if not tables:
        notes.append(f"{space_name}/{dataset}/{device}: no limit table applies, searched without limits")
        return [({}, "")]
    gt = ground_truth(dataset, device, sources, space=space_name)
    out = []
    for i, table in tables:
        for parts in table.entries():
            missing = [m for m in parts if not gt.has(m)]
            if missing:
                if table.devices is not None:
                    raise HarnessError(f"{suite.file}: limits[{i}]: device {device!r} has no {missing[0]} measurements")
                notes.append(f"limits[{i}] ({limit_label(parts)}) skipped on {space_name}/{device}: "
                             f"no {missing[0]} measurements")
                continue
            values = {}
            for m, (kind, v) in parts.items():
                if kind == "q":
                    arr = gt.metric(m)
                    if gt.device_live:  # the suite's own sample: stable while the cache grows
                        arr = arr[_live_sample(suite, gt.space)]
                    arr = arr[np.isfinite(arr)]
                    if arr.size == 0:
                        raise HarnessError(f"{suite.file}: limits[{i}]: device {device!r} has no measured {m} on "
                                           f"{dataset}")
                    values[m] = float(np.quantile(arr, v))
                else:
                    values[m] = float(v)
            if not gt.feasible_mask(values).any():
                raise HarnessError(f"{suite.file}: limits[{i}] ({limit_label(parts)}): no architecture on "
                                   f"{space_name}/{dataset}/{device} meets them")
            out.append((values, limit_label(parts)))
    return out


def measure_live(suite: Suite, sources, progress: bool = True) -> list[str]:
    """Measure a seeded sample on every live device of the suite (cached: a re-run is free), plus the
    architectures the `[measure] rows_of` methods will ask for."""
    notes = []
    triples = {(s, dev, ds) for m in suite.methods for s in suite.method_spaces(m) for dev in suite.method_devices(m)
               for ds in suite.method_datasets(m)}
    for space_name, dev, ds in sorted(triples):
        profile = get_profile(dev, sources)
        if not profile.live or not profile.covers(space_name, ds):
            continue
        space = load_space(space_name, sources)
        if ds not in space.tasks:
            continue
        batch, threads = local.parse_profile_name(dev)
        rows = _live_sample(suite, space)
        extra = _hardware_rows(suite, space_name, ds, sources)
        rows = np.concatenate([rows, np.setdiff1d(extra, rows)])
        rep = local.measure(space, rows, ds, batch=batch, threads=threads, repeats=suite.measure.repeats,
                            warmup=suite.measure.warmup, progress=progress)
        notes.append(f"{dev}/{ds}: {rep.requested} architectures measured on this machine "
                     f"({rep.new} new, {rep.seconds:.1f}s)")
    return notes


def _hardware_rows(suite: Suite, space_name: str, dataset: str, sources) -> np.ndarray:
    """Architectures whose hardware metrics the `[measure] rows_of` methods ask for when they fit.

    Found by fitting each once through an oracle on the `reference` device (complete tables) and recording
    the hardware queries; right for methods whose profiling set does not depend on the values seen
    (MathNAS single, LANA), so a live device can be measured on exactly those before the cells run."""
    rows = []
    for m in suite.methods:
        if {m.display, m.given_label}.isdisjoint(suite.measure.rows_of) or \
                not hasattr(make_method(m.name, 0, m.entry, **m.params), "fit"):
            continue
        budget = (m.budget or [None])[0]
        for seed in suite.method_seeds(m):
            oracle = Oracle(ground_truth(dataset, suite.measure.reference, sources, space=space_name), budget=budget)
            make_method(m.name, seed=seed, entry=m.entry, **m.params).fit(oracle)
            rows.append(oracle.hardware_rows())
    return np.unique(np.concatenate(rows)) if rows else np.empty(0, dtype=np.int64)


def expand(suite: Suite, sources=None, strict: bool = True) -> tuple[list[Cell], list[str]]:
    """Every cell of the suite (deduplicated, in suite order) and notes on what was skipped and why.

    strict=False (dry runs): limits that cannot be resolved yet (a live device not measured) become
    placeholders with a note instead of an error."""
    sources = Sources.of(sources)
    cells: dict[str, Cell] = {}
    notes: list[str] = []

    def add(spec: dict):
        if suite.excluded(spec):
            return
        key = cell_key(spec)
        cells.setdefault(key, Cell(spec, key))

    skipped, no_accuracy = set(), set()
    limits_cache: dict = {}
    truth_cells = []
    hw = suite.hardware
    for m in suite.methods:
        for task in [t for t in ("predict", "search") if t in suite.tasks and t in m.tasks]:
            for space_name in suite.method_spaces(m):
                space = load_space(space_name, sources)
                for dataset in suite.method_datasets(m):
                    if dataset not in space.tasks:
                        if len(suite.method_spaces(m)) == 1:   # several spaces: datasets go to those that have them
                            skipped.add((space_name, "", dataset))
                        continue
                    if task == "search" and not space.tasks[dataset].has_accuracy:
                        no_accuracy.add((space_name, dataset))
                        continue
                    for device in suite.method_devices(m):
                        if suite.excludes_triple(space_name, dataset, device, task):
                            continue
                        if not get_profile(device, sources).covers(space_name, dataset):
                            if get_profile(device, sources).covers(space_name):   # else: another space's device
                                skipped.add((space_name, device, dataset))
                            continue
                        if task == "search":
                            key = (space_name, dataset, device)
                            if key not in limits_cache:
                                try:
                                    limits_cache[key] = resolve_limits(suite, space_name, dataset, device, sources,
                                                                       notes)
                                except HarnessError as e:
                                    if strict or not get_profile(device, sources).live:
                                        raise   # only a live device not measured yet is resolved at run time
                                    notes.append(f"{space_name}/{device}/{dataset}: limits unknown until run ({e})")
                                    limits_cache[key] = [({"unresolved": i}, f"limit set {i}")
                                                         for i in range(max(1, len(suite.limits)))]
                                truth_cells.append(key)
                            limit_sets = limits_cache[key]
                        else:
                            limit_sets = [(None, None)]
                        regimes = suite.method_regimes(m)
                        if not get_profile(device, sources).metrics:   # no hardware: every regime is "free"
                            regimes = ["free"]
                        for regime in regimes:
                            for limits, label in limit_sets:
                                for budget in m.budget or [None]:
                                    for seed in suite.method_seeds(m):
                                        spec = {"task": task, "space": space_name, "dataset": dataset,
                                                "device": device, "method": m.name, "label": m.display,
                                                "params": m.params, "budget": budget, "seed": seed}
                                        if m.entry:
                                            spec["entry"] = m.entry
                                        if regime != "free":
                                            spec.update(regime=regime, hw_cost=hw.cost if regime == "charged" else
                                                        0.0, hw_budget=hw.budget if regime == "blind" else None)
                                        if task == "search":
                                            spec.update(limits=limits, limit_label=label)
                                        else:
                                            spec["sample_size"] = suite.sample_size
                                        add(spec)
    for space_name, dataset, device in truth_cells:  # the truth the figures need, so reports read only the store
        add({"task": "groundtruth", "space": space_name, "dataset": dataset, "device": device,
             "sample_size": CLOUD_SIZE, "seed": 0})
    for space_name, device, dataset in sorted(skipped):
        notes.append(f"{device or space_name} has no measurements for {dataset}: its cells are skipped"
                     if device else f"space {space_name} has no dataset {dataset}: its cells are skipped")
    for space_name, dataset in sorted(no_accuracy):
        notes.append(f"{space_name}/{dataset} has no accuracy (hardware costs only): its search cells are skipped")
    for g in suite.solvers:
        for family in g.families or FAMILIES.names():
            for backend in g.backends or backend_names():
                for seed in suite.solver_seeds(g):
                    opts = {"time_limit": g.time_limit}
                    if g.ratio:
                        opts["ratio"] = g.ratio
                    add({"task": "solvers", "backend": backend, "family": family, "seed": seed, "options": opts})
    if "claims" in suite.tasks:
        add({"task": "claims", "seed": 0})
    return list(cells.values()), notes
