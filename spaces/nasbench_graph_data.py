"""NAS-Bench-Graph tables from <data root>/nasbench_graph (see its README), validated on load, cached per process.

Two CSVs, each one row per non-isomorphic architecture in the file's order: nasbench_graph_8datasets.csv
(26,206 rows, 8 datasets) and nasbench_graph_proteins.csv (2,021 rows, proteins, 5 ops). Per dataset:
`<ds>_valid_pct`, `<ds>_test_pct` (accuracy %, mean over 3 seeds), `<ds>_latency_ms`, `<ds>_params_M`.
Only CSV is read here; the package's pickles are converted by `data import-nasbench-graph`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import HarnessError
from core.sources import Sources
from spaces.nasbench_graph import (DATASETS, LINKS, OPS9, OPS_PROTEINS, PROTEINS, NASBenchGraphSpace, isomorph_index,
                                   parse_arch, valid_hash)
from spaces.nb201_data import _numeric, _read_csv, _require_file

FOLDER = "nasbench_graph"
MAIN_FILE = "nasbench_graph_8datasets.csv"
PROTEINS_FILE = "nasbench_graph_proteins.csv"
COLUMNS = ("valid_pct", "test_pct", "latency_ms", "params_M")
ID_COLUMNS = ("arch_index", "valid_hash", "arch", "link", "ops")


@dataclass(frozen=True)
class Benchmark:
    """What one published table holds: its file, op list, datasets and row count."""

    file: str
    ops: tuple[str, ...]
    datasets: tuple[str, ...]
    rows: int


BENCHMARKS = {"nasbench_graph": Benchmark(MAIN_FILE, OPS9, DATASETS, 26_206),
              "nasbench_graph_proteins": Benchmark(PROTEINS_FILE, OPS_PROTEINS, PROTEINS, 2_021)}
SOURCE = ("NAS-Bench-Graph (Qin et al., NeurIPS 2022 D&B), light files of nas-bench-graph 1.4.0 via "
          "<data root>/nasbench_graph/{file}; FLOPs are not published; the published params are a per-choice sum "
          "(link + position-op one-hot, exact to 1e-14) over the canonical rows of cs, computers, arxiv and "
          "proteins only, not over the isomorphic codes that map to them (up to 0.2 M off), so block_costs is None "
          "and params are exact per row (row_costs)")


@dataclass(frozen=True)
class GraphTable:
    """Every array of one CSV, row-aligned: codes, valid_hash, and per dataset valid/test %, latency ms, params M."""

    path: Path
    datasets: tuple[str, ...]
    codes: np.ndarray
    valid_hash: np.ndarray
    valid: dict
    test: dict
    latency: dict
    params: dict


def columns(datasets) -> list[str]:
    return list(ID_COLUMNS) + [f"{d}_{c}" for d in datasets for c in COLUMNS]


def _codes(path: Path, frame, ops: tuple[str, ...]) -> np.ndarray:
    """Arch strings -> codes; the link/ops columns must repeat them and every link must be canonical."""
    codes = np.empty((len(frame), 5), dtype=np.int64)
    for r, (arch, link, op) in enumerate(zip(frame["arch"], frame["link"], frame["ops"])):
        pattern, idx = parse_arch(arch, ops, f"{path}: row {r}:")
        text = "".join(map(str, pattern))
        if text not in LINKS:
            raise HarnessError(f"{path}: row {r}: arch {arch!r} has the raw link {text!r}; stored rows use the 9 "
                               f"canonical ones ({', '.join(LINKS)})")
        if f"{link}:{op}" != arch.strip():
            raise HarnessError(f"{path}: row {r}: columns link {link!r} and ops {op!r} disagree with arch {arch!r}")
        codes[r] = [LINKS.index(text)] + idx
    return codes


def _check_values(path: Path, values: dict, datasets) -> None:
    for d in datasets:
        for c in ("valid_pct", "test_pct"):
            v = values[f"{d}_{c}"]
            if v.min() < 0 or v.max() > 100:
                raise HarnessError(f"{path}: column {d}_{c!r} must be a percentage in 0..100, found "
                                   f"{v.min():.4g}..{v.max():.4g}")
        for c, what in (("latency_ms", "latency"), ("params_M", "parameter count")):
            v = values[f"{d}_{c}"]
            if v.min() <= 0:
                raise HarnessError(f"{path}: column '{d}_{c}' has a non-positive {what} {v.min():g} at row "
                                   f"{int(np.argmin(v))}")


@lru_cache(maxsize=8)
def _load(path: Path, bench: Benchmark) -> tuple[GraphTable, np.ndarray, dict]:
    frame = _read_csv(path, dtype={"arch": str, "link": str, "ops": str})
    missing = [c for c in columns(bench.datasets) if c not in frame.columns]
    if missing:
        raise HarnessError(f"{path}: missing column {missing[0]!r}")
    if len(frame) != bench.rows:
        raise HarnessError(f"{path}: expected {bench.rows:,} rows, found {len(frame):,}")
    for c in ("arch", "link", "ops"):
        if frame[c].isna().any():
            raise HarnessError(f"{path}: column {c!r} is empty at row {int(np.argmax(frame[c].isna().to_numpy()))}")
    values = _numeric(path, frame, ["arch_index", "valid_hash"] + columns(bench.datasets)[len(ID_COLUMNS):])
    order = values["arch_index"]
    if np.any(order != np.arange(bench.rows)):
        r = int(np.argmax(order != np.arange(bench.rows)))
        raise HarnessError(f"{path}: arch_index must count 0, 1, ... in file order; row {r} has {order[r]:g}")
    _check_values(path, values, bench.datasets)
    codes = _codes(path, frame, bench.ops)
    dup = frame["arch"].str.strip().duplicated()
    if dup.any():
        r = int(np.argmax(dup.to_numpy()))
        raise HarnessError(f"{path}: duplicated arch {frame['arch'].iloc[r]!r} at row {r}")
    hashes = valid_hash(codes, bench.ops)
    if np.any(hashes != values["valid_hash"]):
        r = int(np.argmax(hashes != values["valid_hash"]))
        raise HarnessError(f"{path}: row {r}: valid_hash {values['valid_hash'][r]:g} is not the hash {hashes[r]} of "
                           f"arch {frame['arch'].iloc[r]!r}")
    row_of, row_of_key, clash = isomorph_index(codes, bench.ops)
    if clash is not None:
        i, j = clash
        raise HarnessError(f"{path}: row {i} ({frame['arch'].iloc[i]}) computes nothing (every op is skip)" if j < 0
                           else f"{path}: rows {i} and {j} ({frame['arch'].iloc[i]}, {frame['arch'].iloc[j]}) are "
                                f"isomorphic: the same architecture twice")
    codes.setflags(write=False)
    row_of.setflags(write=False)
    arrays = {c: {d: values[f"{d}_{c}"] for d in bench.datasets} for c in COLUMNS}
    for per in arrays.values():
        for a in per.values():
            a.setflags(write=False)
    table = GraphTable(path, bench.datasets, codes, hashes, arrays["valid_pct"], arrays["test_pct"],
                       arrays["latency_ms"], arrays["params_M"])
    return table, row_of, row_of_key


def load_table(name: str, sources=None) -> tuple[GraphTable, np.ndarray, dict]:
    """(table, row of every product-space code, row of every canonical key) of `nasbench_graph[_proteins]`."""
    bench = BENCHMARKS[name]
    folder = Sources.of(sources).folder(FOLDER)
    return _load(_require_file(folder, bench.file).resolve(), bench)


def _space(name: str, sources) -> NASBenchGraphSpace:
    table, row_of, row_of_key = load_table(name, sources)
    return NASBenchGraphSpace(name, BENCHMARKS[name].ops, table, row_of, row_of_key,
                              SOURCE.format(file=BENCHMARKS[name].file))


def load_space(sources=None) -> NASBenchGraphSpace:
    """Entry point of space `nasbench_graph` (9 ops, 8 datasets, 26,206 rows)."""
    return _space("nasbench_graph", sources)


def load_proteins_space(sources=None) -> NASBenchGraphSpace:
    """Entry point of space `nasbench_graph_proteins` (5 ops, proteins, 2,021 rows)."""
    return _space("nasbench_graph_proteins", sources)


load_table.cache_clear = _load.cache_clear
