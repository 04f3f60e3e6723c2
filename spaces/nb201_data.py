"""NAS-Bench-201 ground-truth tables from the data folder (../shared/nb201 layout), validated on load,
cached per process.

Reading a data folder never unpickles anything: only CSV and Parquet are read here. The official
`.pth`/pickle files are converted by the explicit `mathnas-bench data import-*` commands (spaces/nb201_import.py).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from core.codes import lexicographic_rank
from core.errors import HarnessError, unknown_name
from core.sources import ENV_DATA as ENV_VAR
from core.sources import Sources
from spaces.nb201 import NUM_ARCHS, NB201Space, parse_arch

ACCURACY_FILE = "accuracy.csv"
LATENCY_FILE = "latency_ms.csv"
HW360_FILE = "hw360.parquet"
ENERGY_FILE = "energy_mj.csv"  # optional; written by `data import-hwnasbench`

CSV_DATASETS = ("cifar10", "cifar100", "imagenet16_120")
HW360_TASKS = ("cifar100", "darcy", "ninapro")
DATASETS = CSV_DATASETS + ("darcy", "ninapro")
LATENCY_DEVICES = (
    "1080ti_1", "1080ti_32", "1080ti_256", "2080ti_1", "2080ti_32", "2080ti_256",
    "titan_rtx_1", "titan_rtx_32", "titan_rtx_256", "titanx_1", "titanx_32", "titanx_256",
    "titanxp_1", "titanxp_32", "titanxp_256", "gold_6226", "gold_6240", "silver_4114", "silver_4210r",
    "pixel2", "pixel3", "samsung_a50", "samsung_s7", "essential_ph_1", "raspi4", "fpga", "eyeriss",
)
# Devices of HW-NAS-Bench that only an imported folder has (not in ../shared/nb201).
EXTRA_DEVICES = ("edgegpu", "edgetpu")
HW360_PROFILES = (("pi5", "onnx"), ("pi5", "litert"), ("pi5", "torchmobile"), ("pixel", "litert"))
HW360_COLUMNS = ("arch_idx", "rep_arch_idx", "device", "framework", "task", "lat_ms_median", "energy_mj", "accuracy")
# sha256 of the 15,625 official arch strings in arch_index order ("\n"-joined): the official NAS-Bench-201
# order. A folder whose strings differ (two rows swapped, a hand edit) is refused: its accuracies would be
# silently attached to the wrong architectures.
OFFICIAL_ORDER_SHA256 = "83abc799e45cf34e9d2163654668ab998b9a54d01c39e72ca1f71f2cdf356d84"
# The published maxima of ../shared/nb201/README.md; `data check` compares against them.
PUBLISHED_MAXIMA = {"cifar10": 94.373, "cifar100": 73.513, "imagenet16_120": 47.311}


def resolve_data_dir(path=None) -> Path:
    """--data, else $MATHNAS_BENCH_DATA, else <data root>/nb201 (core.sources)."""
    return Sources.of(path).nb201_dir()


def _require_file(folder: Path, name: str) -> Path:
    f = folder / name
    if not f.is_file():
        raise HarnessError(f"{f}: missing data file")
    return f


def _read_csv(path: Path, **options) -> pd.DataFrame:
    """pandas.read_csv (options passed on, e.g. dtype), with an unreadable file as one line."""
    try:
        return pd.read_csv(path, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        raise HarnessError(f"{path}: unreadable CSV ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def _numeric(path: Path, frame: pd.DataFrame, columns, allow_nan: bool = False) -> dict[str, np.ndarray]:
    out = {}
    for col in columns:
        if col not in frame.columns:
            raise HarnessError(f"{path}: missing column {col!r}")
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(values) & frame[col].notna().to_numpy()
        if bad.any():
            raise HarnessError(f"{path}: column {col!r} has a non-numeric value {frame[col].iloc[int(np.argmax(bad))]!r} "
                               f"at row {int(np.argmax(bad))}")
        if not allow_nan and np.isnan(values).any():
            raise HarnessError(f"{path}: column {col!r} has a missing/NaN value at row {int(np.argmax(np.isnan(values)))}")
        if np.isinf(values).any():
            raise HarnessError(f"{path}: column {col!r} has an infinite value")
        out[col] = values
    return out


def _check_index(path: Path, values: np.ndarray, column: str) -> np.ndarray:
    """Row order of an index column: must be a permutation of 0..15624."""
    if len(values) != NUM_ARCHS:
        raise HarnessError(f"{path}: expected {NUM_ARCHS} rows, found {len(values)}")
    if np.any(values != np.round(values)) or values.min() < 0 or values.max() >= NUM_ARCHS:
        raise HarnessError(f"{path}: column {column!r} must hold integers 0..{NUM_ARCHS - 1}")
    idx = values.astype(np.int64)
    counts = np.bincount(idx, minlength=NUM_ARCHS)
    if counts.max() > 1:
        raise HarnessError(f"{path}: duplicated {column} {int(np.argmax(counts))}")
    return np.argsort(idx)


@dataclass
class Tables:
    """Every ground-truth array of a data folder, aligned with the official NAS-Bench-201 index."""

    folder: Path
    space: NB201Space
    accuracy: dict[str, np.ndarray]  # dataset -> (15625,)
    latency: dict[str, np.ndarray]  # latency_ms.csv device column -> (15625,)
    energy: dict[str, np.ndarray] = field(default_factory=dict)  # energy_mj.csv (imported folders only)
    hw360: dict[tuple[str, str, str], dict[str, np.ndarray]] = field(default_factory=dict)  # (device, fw, task)
    hw360_rep: np.ndarray | None = None  # isomorphism representative per architecture


def _load_accuracy(folder: Path):
    path = _require_file(folder, ACCURACY_FILE)
    frame = _read_csv(path)
    for col in ("arch_index", "arch") + CSV_DATASETS:
        if col not in frame.columns:
            raise HarnessError(f"{path}: missing column {col!r}")
    cols = _numeric(path, frame, ("arch_index",) + CSV_DATASETS)
    order = _check_index(path, cols["arch_index"], "arch_index")
    archs = frame["arch"].to_numpy()[order]
    codes = np.empty((NUM_ARCHS, 6), dtype=np.int64)
    if hashlib.sha256("\n".join(map(str, archs)).encode()).hexdigest() != OFFICIAL_ORDER_SHA256:
        _check_official_order(path, archs)
    for i, a in enumerate(archs):
        try:
            codes[i] = parse_arch(a)
        except HarnessError as e:
            raise HarnessError(f"{path}: row with arch_index {i}: {e}") from None
    accuracy = {d: cols[d][order] for d in CSV_DATASETS}
    for d, a in accuracy.items():
        if a.min() < 0 or a.max() > 100:
            raise HarnessError(f"{path}: column {d!r} must be a percentage in 0..100, found {a.min():.3f}..{a.max():.3f}")
    return codes, accuracy


def _check_official_order(path: Path, archs) -> None:
    """Name the first row whose arch string is not the official one at that index (parsing first, so a
    malformed string gets its own message)."""
    for i, a in enumerate(archs):
        try:
            parse_arch(a)
        except HarnessError as e:
            raise HarnessError(f"{path}: row with arch_index {i}: {e}") from None
    codes = np.stack([parse_arch(a) for a in archs])
    if np.unique(lexicographic_rank(codes, (5,) * 6)).size != len(archs):
        return  # duplicated architectures: reported by NB201Space with its own message
    raise HarnessError(f"{path}: the arch strings are not in the official NAS-Bench-201 order (arch_index -> arch); "
                       f"a row was edited or two rows were swapped")


def _load_device_columns(path: Path, what: str) -> dict[str, np.ndarray]:
    """A per-device CSV (arch_index + one column per known device); any subset of known devices."""
    frame = _read_csv(path)
    devices = [c for c in frame.columns if c in LATENCY_DEVICES + EXTRA_DEVICES]
    if not devices:
        raise HarnessError(f"{path}: no known device column; expected some of {', '.join(LATENCY_DEVICES[:4])}, ...")
    cols = _numeric(path, frame, ["arch_index"] + devices)
    order = _check_index(path, cols["arch_index"], "arch_index")
    out = {}
    for d in devices:
        v = cols[d][order]
        if v.min() <= 0:
            raise HarnessError(f"{path}: column {d!r} has a non-positive {what} {v.min()}")
        out[d] = v
    return out


def _load_hw360(folder: Path):
    path = _require_file(folder, HW360_FILE)
    try:
        frame = pd.read_parquet(path, columns=list(HW360_COLUMNS))
    except Exception as e:  # pyarrow raises many types for corrupt/mismatched files
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise HarnessError(f"{path}: unreadable Parquet or missing columns ({first})") from None
    out = {}
    rep = None
    for (device, fw) in HW360_PROFILES:
        for task in HW360_TASKS:
            part = frame[(frame["device"] == device) & (frame["framework"] == fw) & (frame["task"] == task)]
            where = f"{path} [{device}/{fw}/{task}]"
            if len(part) != NUM_ARCHS:
                raise HarnessError(f"{where}: expected {NUM_ARCHS} rows, found {len(part)}")
            cols = _numeric(Path(where), part, ("arch_idx", "rep_arch_idx", "lat_ms_median", "accuracy"))
            order = _check_index(Path(where), cols["arch_idx"], "arch_idx")
            entry = {"latency": cols["lat_ms_median"][order], "accuracy": cols["accuracy"][order]}
            if device == "pi5":
                entry["energy"] = _numeric(Path(where), part, ("energy_mj",))["energy_mj"][order]
            for metric in ("latency", "energy"):
                if metric in entry and entry[metric].min() <= 0:
                    raise HarnessError(f"{where}: {metric} must be > 0, found {entry[metric].min():g}")
            out[(device, fw, task)] = entry
            rep = cols["rep_arch_idx"][order].astype(np.int64) if rep is None else rep
    return out, rep


def load_tables(folder=None) -> Tables:
    """Load and validate the whole data folder once per process (about a second).

    accuracy.csv and latency_ms.csv are required; hw360.parquet (pi5/pixel profiles, darcy/ninapro) and
    energy_mj.csv are optional: asking for what they provide without them is a clear error.
    `folder`: a path, a core.sources.Sources, or None (the environment's default)."""
    return _load_tables(resolve_data_dir(folder))


@lru_cache(maxsize=4)
def _load_tables(path: Path) -> Tables:
    codes, accuracy = _load_accuracy(path)
    latency = _load_device_columns(_require_file(path, LATENCY_FILE), "latency")
    energy = _load_device_columns(path / ENERGY_FILE, "energy") if (path / ENERGY_FILE).is_file() else {}
    hw360, rep = _load_hw360(path) if (path / HW360_FILE).is_file() else ({}, None)
    if hw360:
        for task in ("darcy", "ninapro"):
            accuracy[task] = hw360[("pi5", "onnx", task)]["accuracy"]
    for a in accuracy.values():
        a.setflags(write=False)
    space = NB201Space(order=codes, accuracy=accuracy)
    return Tables(folder=path, space=space, accuracy=accuracy, latency=latency, energy=energy,
                  hw360=hw360, hw360_rep=rep)


load_tables.cache_clear = _load_tables.cache_clear


def load_space(sources=None) -> NB201Space:
    """The registered loader of space `nb201` (entry point): the space built from the data folder."""
    return load_tables(sources).space


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise unknown_name("dataset", dataset, DATASETS)
    return dataset
