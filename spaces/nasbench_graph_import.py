"""`mathnas-bench data import-nasbench-graph`: the nas-bench-graph package's light files -> the two CSV tables.

The installed package (`pip install nas-bench-graph`, an optional dependency this project does not declare)
ships `nas_bench_graph/light/<dataset>.bench`: plain pickled dicts `valid_hash -> {'valid_perf', 'perf',
'latency', 'para'}` (accuracy as a fraction, latency in seconds, params in millions). They become
nasbench_graph_8datasets.csv and nasbench_graph_proteins.csv exactly as ../shared/nasbench_graph/convert.py
writes them (rows sorted by valid_hash, percentages, milliseconds).

SAFETY: unpickling runs code chosen by whoever made the file; this command (with the NAS-Bench-201 importers
of spaces/nb201_import.py) is the only place in the project that unpickles, and only when a user runs it.
The package is located without being imported.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import HarnessError
from core.files import atomic_write_bytes
from core.sources import Sources
from spaces.nasbench_graph import LINKS, OPS9, NUM_OPS_NODES
from spaces.nasbench_graph_data import BENCHMARKS, COLUMNS, FOLDER, Benchmark, _load, columns
from spaces.nb201_import import SAFETY_NOTE, _check_input, _load_pickle, _prepare_out_dir

PACKAGE = "nas_bench_graph"
FIELDS = {"valid_pct": ("valid_perf", 100.0), "test_pct": ("perf", 100.0), "latency_ms": ("latency", 1000.0),
          "params_M": ("para", 1.0)}
FLOAT_FORMAT = "%.9g"   # convert.py's


def light_dir() -> Path:
    """The installed package's light/ folder (found, not imported)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError("the nas-bench-graph package is not installed (pip install nas-bench-graph==1.4.0), "
                           "or pass --light-dir DIR (the light/ folder of THUMNLab/NAS-Bench-Graph)")
    return Path(list(spec.submodule_search_locations)[0]) / "light"


def _bench(path: Path) -> dict:
    data = _load_pickle(_check_input(path))
    if not isinstance(data, dict) or not data:
        raise HarnessError(f"{path}: not a NAS-Bench-Graph light file (expected a non-empty dict valid_hash -> "
                           f"results, found {type(data).__name__})")
    for key, entry in data.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise HarnessError(f"{path}: key {key!r} is not an integer valid_hash")
        if not isinstance(entry, dict) or any(f not in entry for f, _ in FIELDS.values()):
            raise HarnessError(f"{path}: entry {key} must be a dict with keys "
                               f"{', '.join(f for f, _ in FIELDS.values())}")
    return data


def _decode(path: Path, h: int, ops: tuple[str, ...]) -> tuple[str, str]:
    """valid_hash -> (link, ops) text: link index, then 4 op digits of the 9-op list, base 10."""
    digits, rest = [], int(h)
    for _ in range(NUM_OPS_NODES):
        rest, d = divmod(rest, len(OPS9) + 1)
        digits.append(d)
    if not 0 <= rest < len(LINKS) or max(digits) >= len(OPS9) or any(OPS9[d] not in ops for d in digits):
        raise HarnessError(f"{path}: key {h} is not a valid_hash of this space (link index then 4 ops of "
                           f"{', '.join(ops)})")
    return LINKS[rest], "-".join(OPS9[d] for d in reversed(digits))


def table(light: Path, bench: Benchmark) -> pd.DataFrame:
    """One CSV table from the light files of `bench`'s datasets (same valid_hash keys in every file)."""
    benches = {d: _bench(light / f"{d}.bench") for d in bench.datasets}
    first = bench.datasets[0]
    keys = sorted(int(k) for k in benches[first])
    for d, b in benches.items():
        if sorted(int(k) for k in b) != keys:
            raise HarnessError(f"{light / f'{d}.bench'}: its architectures differ from those of "
                               f"{light / f'{first}.bench'}")
    link_ops = [_decode(light / f"{first}.bench", k, bench.ops) for k in keys]
    rows = {"arch_index": np.arange(len(keys)), "valid_hash": keys,
            "arch": [f"{lk}:{op}" for lk, op in link_ops], "link": [lk for lk, _ in link_ops],
            "ops": [op for _, op in link_ops]}
    for d, b in benches.items():
        for column, (field, scale) in FIELDS.items():
            try:
                values = np.array([float(b[k][field]) for k in keys]) * scale
            except (TypeError, ValueError):
                raise HarnessError(f"{light / f'{d}.bench'}: a {field!r} value is not a number") from None
            if not np.all(np.isfinite(values)):
                raise HarnessError(f"{light / f'{d}.bench'}: {field!r} of valid_hash "
                                   f"{keys[int(np.argmin(np.isfinite(values)))]} is {values[~np.isfinite(values)][0]}")
            rows[f"{d}_{column}"] = values
    return pd.DataFrame(rows)[columns(bench.datasets)]


def import_nasbench_graph(out_dir, light=None) -> list[dict]:
    """Write both tables into out_dir; a complete table is then read back through the space's validating loader.

    Returns one summary per file: file, rows, expected_rows, complete."""
    light = Path(light).expanduser() if light is not None else light_dir()
    if not light.is_dir():
        raise HarnessError(f"{light}: light folder not found")
    out = _prepare_out_dir(out_dir)
    frames = {name: table(light, bench) for name, bench in BENCHMARKS.items()}   # read all before writing any
    summaries = []
    for name, bench in BENCHMARKS.items():
        target = out / bench.file
        atomic_write_bytes(target, frames[name].to_csv(index=False, float_format=FLOAT_FORMAT).encode())
        complete = len(frames[name]) == bench.rows
        if complete:
            _load.__wrapped__(target.resolve(), bench)      # hashes, arch strings, isomorphs, ranges: the loader's checks
        summaries.append({"space": name, "file": str(target), "rows": len(frames[name]),
                          "expected_rows": bench.rows, "complete": complete})
    return summaries


def _cmd(args) -> int:
    out = args.out if args.out is not None else Sources.of(args.sources).root_dir() / FOLDER
    for s in import_nasbench_graph(out, args.light_dir):
        state = "complete" if s["complete"] else "INCOMPLETE (the space refuses it)"
        print(f"{s['space']}: {s['rows']:,} of {s['expected_rows']:,} architectures -> {s['file']} ({state})")
    return 0


def register(data_subparsers, common=None) -> None:
    """Add `data import-nasbench-graph` to the `data` command group."""
    p = data_subparsers.add_parser(
        "import-nasbench-graph", parents=[common] if common is not None else [],
        help="convert the installed nas-bench-graph package's light files (pickles: trusted files only) to CSV",
        description="Convert the light files of the installed nas-bench-graph package (nas_bench_graph/light/"
                    "<dataset>.bench) into DIR/nasbench_graph_8datasets.csv and DIR/nasbench_graph_proteins.csv, "
                    f"the tables of spaces nasbench_graph and nasbench_graph_proteins. {SAFETY_NOTE}")
    p.add_argument("--out", metavar="DIR", default=None,
                   help=f"folder to write (default: <data root>/{FOLDER}, where the spaces read it)")
    p.add_argument("--light-dir", metavar="DIR", default=None,
                   help="read this light/ folder instead of the installed package's (e.g. a clone of "
                        "THUMNLab/NAS-Bench-Graph)")
    p.set_defaults(func=_cmd)


__all__ = ["COLUMNS", "import_nasbench_graph", "light_dir", "register", "table"]
