"""NAS-Bench-Graph data: the CSV loader refuses corrupt files in one line naming the file, and
`data import-nasbench-graph` converts the package's light files (pickles) into the same tables.

The package is not installable offline here, so the importer is tested on hand-made light files of the
package's structure: a tiny set, and one rebuilt from the shared CSV (which must convert back to it)."""
from __future__ import annotations

import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import HarnessError
from core.sources import Sources
from spaces import load_space
from spaces.nasbench_graph import LINKS, OPS9
from spaces.nasbench_graph_import import import_nasbench_graph, light_dir

SHARED = Sources().root_dir() / "nasbench_graph"
PROTEINS = "nasbench_graph_proteins.csv"
DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv")


def _hash(arch: str) -> int:
    link, ops = arch.split(":")
    h = LINKS.index(link)
    for op in ops.split("-"):
        h = h * 10 + OPS9.index(op)
    return h


# --- the loader ---------------------------------------------------------------------------------------------------
def _proteins_root(tmp_path, edit) -> Sources:
    """A data root whose proteins CSV is the shared one after `edit(frame)` (returns the frame to write, or bytes)."""
    folder = tmp_path / "nasbench_graph"
    folder.mkdir()
    frame = pd.read_csv(SHARED / PROTEINS, dtype={"link": str, "ops": str, "arch": str})
    out = edit(frame)
    if isinstance(out, bytes):
        (folder / PROTEINS).write_bytes(out)
    elif out is not None:
        out.to_csv(folder / PROTEINS, index=False, float_format="%.9g")
    return Sources(root=str(tmp_path))


def _set_arch(frame, row, arch):
    frame.loc[row, ["arch", "link", "ops", "valid_hash"]] = [arch, arch[:4], arch[5:], _hash(arch)]
    return frame


def _cell(frame, row, col, value):
    frame[col] = frame[col].astype(object)
    frame.loc[row, col] = value
    return frame


CORRUPT = {
    "missing file": (lambda f: None, "missing data file"),
    "not a CSV": (lambda f: b"\x00\xff\xfe garbage \x00\n\x01", "unreadable CSV"),
    "missing column": (lambda f: f.drop(columns=["proteins_latency_ms"]), "missing column 'proteins_latency_ms'"),
    "a row short": (lambda f: f.iloc[:-1], "expected 2,021 rows, found 2,020"),
    "NaN": (lambda f: _cell(f, 7, "proteins_test_pct", np.nan), "'proteins_test_pct' has a missing/NaN value at row 7"),
    "text in a number": (lambda f: _cell(f, 3, "proteins_params_M", "many"), "non-numeric value 'many' at row 3"),
    "negative latency": (lambda f: _cell(f, 9, "proteins_latency_ms", -1.0), "non-positive latency -1 at row 9"),
    "accuracy over 100": (lambda f: _cell(f, 2, "proteins_valid_pct", 100.5), "percentage in 0..100"),
    "unknown op": (lambda f: _cell(f, 5, "arch", "0000:gcn-gcn-gcn-gat"), "row 5: arch '0000:gcn-gcn-gcn-gat': unknown op 'gat'"),
    "raw link": (lambda f: _cell(f, 4, "arch", "0121:gcn-gcn-gcn-sage"), "row 4: arch '0121:gcn-gcn-gcn-sage' has the raw link"),
    "columns disagree": (lambda f: _cell(f, 6, "ops", "gcn-gcn-gcn-gcn"), "row 6: columns link"),
    "wrong hash": (lambda f: _cell(f, 8, "valid_hash", 12), "row 8: valid_hash 12 is not the hash"),
    "shuffled index": (lambda f: _cell(f, 10, "arch_index", 11), "row 10 has 11"),
    "duplicated arch": (lambda f: _set_arch(f, 2, f.loc[1, "arch"]), "duplicated arch '0000:gcn-gcn-gcn-sage' at row 2"),
    "isomorphic rows": (lambda f: _set_arch(f, 2, "0000:gcn-gcn-sage-gcn"), "rows 1 and 2 .* are isomorphic"),
    "all skip": (lambda f: _set_arch(f, 3, "0123:skip-skip-skip-skip"), "row 3 .* computes nothing"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_tables_are_one_line_errors_naming_the_file(tmp_path, case):
    edit, fragment = CORRUPT[case]
    sources = _proteins_root(tmp_path, edit)
    with pytest.raises(HarnessError, match=fragment) as e:
        load_space("nasbench_graph_proteins", sources)
    message = str(e.value)
    assert "\n" not in message and str(tmp_path / "nasbench_graph") in message


def test_the_shared_copy_loads_unchanged(tmp_path):
    """The fixture itself is sound: the untouched copy loads (so each case above fails for its own edit)."""
    sp = load_space("nasbench_graph_proteins", _proteins_root(tmp_path, lambda f: f))
    assert sp.size == 2_021


# --- the importer -------------------------------------------------------------------------------------------------
def _entry(valid, test, latency, params) -> dict:
    return {"valid_perf": valid, "perf": test, "latency": latency, "para": params}


def _write_light(folder: Path, benches: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, bench in benches.items():
        with open(folder / f"{name}.bench", "wb") as f:
            pickle.dump(bench, f)
    return folder


def _tiny(folder: Path, **override) -> Path:
    """Three architectures on each of the 8 datasets, two on proteins (the package's dict layout)."""
    main = {1111: _entry(0.5, 0.25, 0.002, 1.5), 88887: _entry(0.8, 0.75, 0.001, 0.5), 147: _entry(0.1, 0.2, 0.003, 2)}
    benches = {d: main for d in DATASETS} | {"proteins": {1111: _entry(0.7, 0.6, 0.01, 0.3),
                                                          88887: _entry(0.7, 0.7, 0.02, 0.4)}}
    return _write_light(folder, benches | override)


def test_not_installed_is_one_line(capsys):
    import importlib.util
    if importlib.util.find_spec("nas_bench_graph") is not None:
        pytest.skip("nas-bench-graph is installed here")
    with pytest.raises(HarnessError, match="nas-bench-graph package is not installed"):
        light_dir()
    from harness.cli import main
    assert main(["data", "import-nasbench-graph", "--out", "/nonexistent-never-written"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "pip install nas-bench-graph" in err


def test_tiny_light_files_convert(tmp_path):
    out = tmp_path / "out"
    summary = import_nasbench_graph(out, _tiny(tmp_path / "light"))
    assert [(s["rows"], s["complete"]) for s in summary] == [(3, False), (2, False)]
    frame = pd.read_csv(out / "nasbench_graph_8datasets.csv", dtype={"link": str})
    assert frame["arch"].tolist() == ["0000:gat-gcn-sage-fc", "0000:gcn-gcn-gcn-gcn", "0123:skip-skip-skip-fc"]
    assert frame["valid_hash"].tolist() == [147, 1111, 88887]                   # sorted by valid_hash
    row = frame.iloc[1]
    assert (row["cora_valid_pct"], row["cora_test_pct"], row["arxiv_latency_ms"], row["cs_params_M"]) == \
        (50.0, 25.0, 2.0, 1.5)
    prot = pd.read_csv(out / PROTEINS)
    assert prot["arch"].tolist() == ["0000:gcn-gcn-gcn-gcn", "0123:skip-skip-skip-fc"]
    with pytest.raises(HarnessError, match="expected 26,206 rows, found 3"):   # the space refuses a partial table
        load_space("nasbench_graph", _root_with(tmp_path, out))


def _root_with(tmp_path, folder) -> Sources:
    root = tmp_path / "root"
    (root / "nasbench_graph").mkdir(parents=True)
    for f in folder.iterdir():
        shutil.copy(f, root / "nasbench_graph" / f.name)
    return Sources(root=str(root))


@pytest.mark.parametrize("override, fragment", [
    ({"cora": [1, 2]}, "not a NAS-Bench-Graph light file"),
    ({"cora": {1111: {"perf": 0.5}}}, "entry 1111 must be a dict with keys valid_perf, perf, latency, para"),
    ({"cora": {"x": _entry(1, 1, 1, 1)}}, "key 'x' is not an integer valid_hash"),
    ({"citeseer": {1111: _entry(0.5, 0.25, 0.002, 1.5)}}, "citeseer.bench: its architectures differ"),
    ({d: {91111: _entry(0.5, 0.25, 0.002, 1.5)} for d in DATASETS}, "key 91111 is not a valid_hash"),
    ({"proteins": {0: _entry(0.5, 0.5, 0.5, 0.5)}}, "proteins.bench: key 0 is not a valid_hash .*gcn, sage"),
    ({"arxiv": {k: _entry(0.5, "x", 0.002, 1.5) for k in (1111, 88887, 147)}}, "'perf' value is not a number"),
])
def test_bad_light_files_are_one_line_errors(tmp_path, override, fragment):
    light = _tiny(tmp_path / "light", **override)
    with pytest.raises(HarnessError, match=fragment) as e:
        import_nasbench_graph(tmp_path / "out", light)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out" / "nasbench_graph_8datasets.csv").exists()   # nothing half-written


@pytest.mark.slow
def test_light_files_rebuilt_from_the_csv_convert_back_to_it(tmp_path):
    """Every row of the shared tables, put into the package's pickled layout, converts back to the same table."""
    benches = {}
    for name, datasets in (("nasbench_graph_8datasets.csv", DATASETS), (PROTEINS, ("proteins",))):
        frame = pd.read_csv(SHARED / name)
        for d in datasets:
            benches[d] = {int(h): _entry(v / 100, t / 100, lat / 1000, p) for h, v, t, lat, p in zip(
                frame["valid_hash"], frame[f"{d}_valid_pct"], frame[f"{d}_test_pct"], frame[f"{d}_latency_ms"],
                frame[f"{d}_params_M"])}
    out = tmp_path / "out"
    summary = import_nasbench_graph(out, _write_light(tmp_path / "light", benches))
    assert [(s["rows"], s["complete"]) for s in summary] == [(26_206, True), (2_021, True)]
    for name in ("nasbench_graph_8datasets.csv", PROTEINS):
        ours, shared = pd.read_csv(out / name), pd.read_csv(SHARED / name)
        pd.testing.assert_frame_equal(ours, shared, check_exact=False, rtol=1e-12)
    assert load_space("nasbench_graph_proteins", _root_with(tmp_path, out)).size == 2_021


def test_cli_reads_an_installed_package(tmp_path, monkeypatch, capsys):
    """A package directory on the import path, as pip would leave it: found without --light-dir, never imported."""
    import importlib

    from harness.cli import main
    pkg = tmp_path / "site" / "nas_bench_graph"
    _tiny(pkg / "light")
    (pkg / "__init__.py").write_text("raise RuntimeError('the importer must not import the package')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    assert light_dir() == pkg / "light"
    assert main(["data", "import-nasbench-graph", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "3 of 26,206 architectures" in out and "INCOMPLETE" in out
    assert (tmp_path / "out" / PROTEINS).is_file() and "nas_bench_graph" not in sys.modules
    with pytest.raises(SystemExit):
        main(["data", "import-nasbench-graph", "--help"])
    helptext = " ".join(capsys.readouterr().out.split())
    assert "pickle" in helptext and "only the import commands do" in helptext
