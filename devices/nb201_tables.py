"""The published NAS-Bench-201 device tables (../shared/nb201) as device profiles (entry point `nb201-tables`).

27 latency_ms.csv columns (one measurement per architecture, used for cifar10/cifar100/imagenet16_120),
HW-NAS-Bench-360's Raspberry Pi 5 (latency + energy) and Pixel (latency) per task, and the edgegpu/edgetpu
columns only a folder written by `data import-hwnasbench` has. Arrays follow the official index.
"""
from __future__ import annotations

import numpy as np

from core.errors import HarnessError
from core.protocols import DeviceProfile
from spaces.nb201_data import (CSV_DATASETS, EXTRA_DEVICES, HW360_FILE, HW360_PROFILES, LATENCY_DEVICES, LATENCY_FILE,
                               load_tables)

# Phones whose published timer has whole-millisecond resolution (../shared/nb201/README.md).
COARSE_MS = {"pixel2", "samsung_a50", "samsung_s7", "essential_ph_1"}
HW_NAS_BENCH = {"fpga", "eyeriss", "pixel3", "raspi4"}


def _latency_column(col: str):
    def load(space, dataset: str, sources) -> dict[str, np.ndarray]:
        tables = load_tables(sources)
        if col not in tables.latency:
            hint = "; it comes from HW-NAS-Bench: run `mathnas-bench data import-hwnasbench FILE --out DIR` and " \
                   "pass --data DIR" if col in EXTRA_DEVICES else ""
            raise HarnessError(f"{tables.folder / LATENCY_FILE}: no column for device {col!r}{hint}")
        out = {"latency": tables.latency[col]}
        if col in tables.energy:
            out["energy"] = tables.energy[col]
        return out
    return load


def _hw360(device: str, fw: str):
    def load(space, dataset: str, sources) -> dict[str, np.ndarray]:
        tables = load_tables(sources)
        task = "cifar100" if dataset == "cifar10" else dataset
        if not tables.hw360:
            raise HarnessError(f"{tables.folder / HW360_FILE}: missing data file (needed by device {device}-{fw})")
        entry = tables.hw360[(device, fw, task)]
        return {k: entry[k] for k in ("latency", "energy") if k in entry}
    return load


def _source(col: str) -> str:
    origin = "HW-NAS-Bench" if col in HW_NAS_BENCH else "BRP-NAS/HELP"
    return f"latency_ms.csv column {col} ({origin}, via HELP)"


def profiles() -> list[DeviceProfile]:
    out = [
        DeviceProfile(col, "table", ("latency",), _source(col), _latency_column(col),
                      resolution_ms=1.0 if col in COARSE_MS else None, coverage={"nb201": CSV_DATASETS},
                      note="one measurement per architecture, used for cifar10, cifar100 and imagenet16_120; "
                           "darcy/ninapro networks differ (other input sizes): use the pi5/pixel profiles")
        for col in LATENCY_DEVICES
    ]
    out += [DeviceProfile(col, "table", ("latency", "energy"), f"HW-NAS-Bench {col}, imported by `data import-hwnasbench`",
                          _latency_column(col), coverage={"nb201": CSV_DATASETS},
                          note="only in folders written by `data import-hwnasbench`")
            for col in EXTRA_DEVICES]
    for device, fw in HW360_PROFILES:
        metrics = ("latency", "energy") if device == "pi5" else ("latency",)
        out.append(DeviceProfile(
            f"{device}-{fw}", "table", metrics,
            f"hw360.parquet device={device} framework={fw} (HW-NAS-Bench-360)", _hw360(device, fw),
            coverage={"nb201": ("cifar10", "cifar100", "darcy", "ninapro")},
            note="per task; cifar10 uses the cifar100 measurements (same network but the 100-way classifier)"))
    return out
