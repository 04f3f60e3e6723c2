"""Named sources of per-architecture latency (ms) and energy (mJ): the device registry.

Every profile returns arrays aligned with the official NAS-Bench-201 index for a dataset. Kinds:
  table     published measurements (../shared/nb201), built here;
  analytic  exact FLOPs/params counts used as the "latency" cost (devices/analytic.py);
  local     this machine, torch, cached on disk (devices/local.py); NaN = not measured;
  file      a user CSV given with --device-file (devices/user_file.py); NaN = not listed.
A NaN value always means "not measured": it is never feasible and never scored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from harness.data import (CSV_DATASETS, EXTRA_DEVICES, HW360_FILE, HW360_PROFILES, LATENCY_DEVICES, LATENCY_FILE, Tables,
                          check_dataset)
from harness.errors import HarnessError, unknown_name

UNITS = {"latency": "ms", "energy": "mJ"}
# Phones whose published timer has whole-millisecond resolution (../shared/nb201/README.md).
COARSE_MS = {"pixel2", "samsung_a50", "samsung_s7", "essential_ph_1"}
HW_NAS_BENCH = {"fpga", "eyeriss", "pixel3", "raspi4"}


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    kind: str  # table | analytic | local | file
    metrics: tuple[str, ...]
    source: str
    loader: Callable[[Tables, str], dict[str, np.ndarray]] = field(repr=False, compare=False)
    resolution_ms: float | None = None
    datasets: tuple[str, ...] | None = None  # None: every dataset of the space
    note: str = ""
    # Unit per metric; defaults to ms/mJ. Analytic profiles put counts in the "latency" slot (MMACs, Mparams).
    units: dict[str, str] | None = field(default=None, compare=False)

    def __post_init__(self):
        given = dict(self.units or {})
        object.__setattr__(self, "units", {m: given.get(m, UNITS.get(m, "")) for m in self.metrics})

    def values(self, tables: Tables, dataset: str) -> dict[str, np.ndarray]:
        """{metric: array over all architectures} for `dataset`; a one-line error when unsupported."""
        check_dataset(dataset)
        if self.datasets is not None and dataset not in self.datasets:
            raise HarnessError(f"device {self.name!r} has no measurements for dataset {dataset!r}; "
                               f"it covers {', '.join(self.datasets)}")
        return self.loader(tables, dataset)


def _latency_column(col: str):
    def load(tables: Tables, dataset: str) -> dict[str, np.ndarray]:
        if col not in tables.latency:
            raise HarnessError(f"{tables.folder / LATENCY_FILE}: no column for device {col!r}")
        out = {"latency": tables.latency[col]}
        if col in tables.energy:
            out["energy"] = tables.energy[col]
        return out
    return load


def _hw360(device: str, fw: str):
    def load(tables: Tables, dataset: str) -> dict[str, np.ndarray]:
        task = "cifar100" if dataset == "cifar10" else dataset
        if not tables.hw360:
            raise HarnessError(f"{tables.folder / HW360_FILE}: missing data file (needed by device {device}-{fw})")
        entry = tables.hw360[(device, fw, task)]
        return {k: entry[k] for k in ("latency", "energy") if k in entry}
    return load


def _source(col: str) -> str:
    origin = "HW-NAS-Bench" if col in HW_NAS_BENCH else "BRP-NAS/HELP"
    return f"latency_ms.csv column {col} ({origin}, via HELP)"


def _table_profiles() -> list[DeviceProfile]:
    out = [
        DeviceProfile(col, "table", ("latency",), _source(col), _latency_column(col),
                      resolution_ms=1.0 if col in COARSE_MS else None, datasets=CSV_DATASETS,
                      note="one measurement per architecture, used for cifar10, cifar100 and imagenet16_120; "
                           "darcy/ninapro networks differ (other input sizes): use the pi5/pixel profiles")
        for col in LATENCY_DEVICES
    ]
    out += [DeviceProfile(col, "table", ("latency", "energy"), f"HW-NAS-Bench {col}, imported by `data import-hwnasbench`",
                          _latency_column(col), datasets=CSV_DATASETS,
                          note="only in folders written by `data import-hwnasbench`")
            for col in EXTRA_DEVICES]
    for device, fw in HW360_PROFILES:
        metrics = ("latency", "energy") if device == "pi5" else ("latency",)
        out.append(DeviceProfile(
            f"{device}-{fw}", "table", metrics,
            f"hw360.parquet device={device} framework={fw} (HW-NAS-Bench-360)", _hw360(device, fw),
            datasets=("cifar10", "cifar100", "darcy", "ninapro"),
            note="per task; cifar10 uses the cifar100 measurements (same network but the 100-way classifier)"))
    return out


_REGISTRY: dict[str, DeviceProfile] = {p.name: p for p in _table_profiles()}
_BUILTINS_LOADED = False


def _ensure_builtins() -> None:
    """Register the analytic and local profiles on first use (lazy: their modules import this one)."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    from devices import analytic, local

    for p in analytic.profiles() + [local.profile()]:
        _REGISTRY.setdefault(p.name, p)


def register(profile: DeviceProfile) -> DeviceProfile:
    """Add a profile (analytic, local, user file). Names are unique: the last registration wins."""
    _ensure_builtins()
    _REGISTRY[profile.name] = profile
    return profile


def profiles() -> list[DeviceProfile]:
    _ensure_builtins()
    return list(_REGISTRY.values())


def get_profile(name: str) -> DeviceProfile:
    """The profile called `name`; `local-cpu-b8-t2` style names (other batch/threads) are made on demand."""
    _ensure_builtins()
    if name not in _REGISTRY:
        from devices import local

        made = local.profile_for_name(name) if isinstance(name, str) else None
        if made is None:
            raise unknown_name("device", name, _REGISTRY)
        _REGISTRY[name] = made
    return _REGISTRY[name]
