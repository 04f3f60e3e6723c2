"""Spaces whose table holds published SAMPLES of a much larger space (FBNet, OFA MobileNetV3).

Rows are the samples in the benchmark's own order; `lookup` maps any valid code to its row or -1, `index`
refuses a code without a row in one line (core.protocols.Space), and `sample` draws from the whole space.
Such benchmarks carry hardware costs only, so their one task has `has_accuracy=False` and splits ROWS:
HELP's protocol, methods query the first 4,000 samples ("train") and are scored on the last 1,000 ("test").
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from core.codes import check_codes, code_keys
from core.errors import HarnessError, shown
from core.protocols import Task
from core.sources import Sources
from spaces.nb201_data import _numeric, _read_csv, _require_file
from spaces.tables import TableRows

SPLITS = ("train", "test")


def hardware_task(name: str, train_rows: int, note: str) -> Task:
    """The task of a hardware-only benchmark: no accuracy, HELP's row split."""
    return Task(name, metric="none (hardware costs only)", unit="", search_split="train", score_split="test",
                has_accuracy=False, note=f"{note}; methods query rows 0..{train_rows - 1} ('train'), results "
                                          f"are scored on the rest ('test'), as HELP meta-trains and tests")


@dataclass(frozen=True)
class SampledTables:
    """A benchmark of samples as loaded: its folder, its space and per-device latency (device -> ms per row)."""

    folder: Path
    space: object
    latency: dict


def table_loader(folder_name: str, build: Callable[[Path], SampledTables]):
    """`load_tables(sources)` for the benchmark in <data root>/<folder_name>: built once per process and folder."""
    cached = lru_cache(maxsize=4)(build)

    def load_tables(sources=None) -> SampledTables:
        return cached(Sources.of(sources).folder(folder_name))

    load_tables.cache_clear = cached.cache_clear
    return load_tables


@dataclass(frozen=True)
class SampleTable:
    """A validated HELP-style CSV: one row per sample in HELP's order, an arch string, `<device>_ms` columns."""

    path: Path
    frame: pd.DataFrame
    numbers: dict       # numeric column -> values
    codes: np.ndarray   # parsed arch strings, row order
    latency: dict       # device -> (rows,) ms, read-only


def read_samples(folder: Path, file: str, rows: int, devices, parse: Callable[[str], np.ndarray],
                 text_columns=(), numeric_columns=()) -> SampleTable:
    """Read and check the CSV: every column present, `rows` rows with sample_index 0..rows-1 in order, every
    arch parsed by `parse`, every latency finite and positive; one line naming file, column and row if not."""
    path = _require_file(folder, file)
    frame = _read_csv(path, dtype={c: str for c in ("arch",) + tuple(text_columns)})
    latency_columns = [f"{d}_ms" for d in devices]
    numeric = ["sample_index", *numeric_columns, *latency_columns]
    for col in ["arch", *text_columns, *numeric]:
        if col not in frame.columns:
            raise HarnessError(f"{path}: missing column {col!r}")
    if len(frame) != rows:
        raise HarnessError(f"{path}: expected {rows:,} rows, found {len(frame):,}")
    numbers = _numeric(path, frame, numeric)
    if not np.array_equal(numbers["sample_index"], np.arange(rows)):
        raise HarnessError(f"{path}: column 'sample_index' must be 0..{rows - 1} in order (HELP's order)")
    codes = []
    for r, arch in enumerate(frame["arch"].fillna("").to_numpy()):
        try:
            codes.append(parse(arch))
        except HarnessError as e:
            raise HarnessError(f"{path}: row {r}: {e}") from None
    latency = {}
    for d, col in zip(devices, latency_columns):
        v = numbers[col]
        if v.min() <= 0:
            raise HarnessError(f"{path}: column {col!r} has a non-positive latency {v.min()} at row {int(np.argmin(v))}")
        v.setflags(write=False)
        latency[d] = v
    return SampleTable(path, frame, numbers, np.array(codes, dtype=np.int64), latency)


class SampledSpace(TableRows):
    """Shared machinery: subclasses set name, num_choices, choice_names, tasks, source, `_train_rows`, and
    implement `_valid(codes) -> bool per code`, `encode`, `decode`, `sample`, `size_proxy`, `graph`."""

    skip_from = None
    _train_rows = 0

    def __init__(self, codes: np.ndarray, what: str):
        codes = self.check_codes(codes)
        self._codes = codes
        self._codes.setflags(write=False)
        self._row_of = {}
        for r, key in enumerate(code_keys(codes)):
            if self._row_of.setdefault(key, r) != r:
                raise HarnessError(f"{what}: row {r} repeats the architecture of row {self._row_of[key]} "
                                   f"({self.decode(codes[r])})")
        if not 0 < self._train_rows < codes.shape[0]:
            raise HarnessError(f"{what}: {codes.shape[0]} rows, but the train split needs {self._train_rows} "
                               f"and a test split after them")

    # --- rows (the published samples, in the benchmark's order: TableRows) ----------------------------
    num_nodes = property(lambda self: len(self.num_choices))

    def check_codes(self, codes) -> np.ndarray:
        """(k, m) codes of the space, or one line naming the first invalid one."""
        codes = check_codes(codes, self.num_choices, self.name)
        ok = self._valid(codes)
        if not ok.all():
            raise HarnessError(f"{self.name}: code {codes[int(np.argmin(ok))].tolist()} is not an architecture of "
                               f"the space ({self._rule})")
        return codes

    def lookup(self, codes) -> np.ndarray:
        """Row of each code, -1 where the table has none (the code is valid but was not sampled)."""
        codes = self.check_codes(codes)
        return np.array([self._row_of.get(k, -1) for k in code_keys(codes)], dtype=np.int64)

    def index(self, codes) -> np.ndarray:
        rows = self.lookup(codes)
        if np.any(rows < 0):
            code = np.atleast_2d(np.asarray(codes))[int(np.argmax(rows < 0))]
            raise HarnessError(f"{self.name} arch {self.decode(code)}: not among the table's {self.size:,} "
                               f"published samples")
        return rows

    def split_mask(self, dataset: str, split: str) -> np.ndarray:
        """HELP's split: the first `_train_rows` samples are 'train', the rest 'test'."""
        self._task(dataset)
        if split not in SPLITS:
            raise HarnessError(f"{self.name}/{dataset}: no split {shown(split)}; valid: {', '.join(SPLITS)}")
        train = np.arange(self.size) < self._train_rows
        return train if split == "train" else ~train

    # --- what the space does not have ------------------------------------------------------------------
    def _task(self, dataset: str) -> Task:
        if dataset not in self.tasks:
            raise HarnessError(f"space {self.name}: no dataset {shown(dataset)}; it has {', '.join(self.tasks)}")
        return self.tasks[dataset]

    def block_costs(self, dataset: str | None = None):
        """None: no FLOPs/params count of this space reproduces a published number (see the module)."""
        return None

    def accuracy(self, dataset: str, split: str = "test") -> np.ndarray:
        self._task(dataset)
        raise HarnessError(f"{self.name}/{dataset} has no accuracy: the benchmark publishes hardware costs only")

