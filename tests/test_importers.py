"""The importers of the official NAS-Bench-201 `.pth` and HW-NAS-Bench pickle (harness/importers.py).

Every input file is written by the test itself in the official layout:
- NAS-Bench-201: {'meta_archs': [arch str], 'arch2infos': {i: {'less': ArchResults.state_dict(),
  'full': ArchResults.state_dict()}}, 'evaluated_indexes': [...]}, built with nas_201_api's own
  ArchResults/ResultsCount classes and saved with torch.save (as NASBench201API.__init__ reads it);
- HW-NAS-Bench: {'nasbench201': {dataset: {metric: values by arch index, 'config': [{'arch_str': ..}]}},
  'fbnet': {...}}, the layout hw_nas_bench_api.HWNASBenchAPI.query_by_index reads.
No data file is committed: the full-size test copies the official arch strings from the shared data
folder into a tmp folder at run time.
"""
from __future__ import annotations

import argparse
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from nas_201_api import ArchResults, ResultsCount

from spaces.nb201_data import load_tables, resolve_data_dir
from core.errors import HarnessError
from spaces.nb201_import import HW_DATASETS, import_hwnasbench, import_nb201, register
from spaces.nb201 import NUM_ARCHS, format_arch

SEEDS = (777, 888, 999)
# eval sets per dataset as in the official file (NASBench201API.get_more_info reads 'ori-test' for
# cifar10 and 'x-test' for cifar100 / ImageNet16-120)
EVAL_SETS = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
             "cifar100": ("x-valid", "x-test", "ori-test"), "ImageNet16-120": ("x-valid", "x-test", "ori-test")}
TEST_SET = {"cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}
COLUMN = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet16_120"}
HW_METRICS = ("edgegpu_latency", "edgegpu_energy", "raspi4_latency", "edgetpu_latency", "pixel3_latency",
              "eyeriss_latency", "eyeriss_energy", "eyeriss_arithmetic_intensity", "fpga_latency", "fpga_energy")
LATENCY_COLS = {"fpga": "fpga_latency", "eyeriss": "eyeriss_latency", "pixel3": "pixel3_latency",
                "raspi4": "raspi4_latency", "edgegpu": "edgegpu_latency", "edgetpu": "edgetpu_latency"}
ENERGY_COLS = {"fpga": "fpga_energy", "eyeriss": "eyeriss_energy", "edgegpu": "edgegpu_energy"}


def _one_line(e: pytest.ExceptionInfo, *parts: str) -> None:
    msg = str(e.value)
    assert msg and "\n" not in msg and "Traceback" not in msg, msg
    for p in parts:
        assert p in msg, msg


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path)


def _small_archs(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    codes = {tuple(int(x) for x in rng.integers(0, 5, 6)) for _ in range(4 * n)}
    return [format_arch(c) for c in sorted(codes)[:n]]


# --- NAS-Bench-201 .pth in the official layout ----------------------------------------------------------
def _value(i: int, dataset: str, setname: str, seed: int, hp: str) -> float:
    """A distinct final-epoch accuracy per (arch, dataset, eval set, seed, schedule)."""
    base = {"cifar10-valid": 80.0, "cifar10": 90.0, "cifar100": 60.0, "ImageNet16-120": 30.0}[dataset]
    return (base + 0.37 * i + {"x-valid": 0.11, "x-test": 0.23, "ori-test": 0.05}[setname]
            + 0.013 * SEEDS.index(seed) - (25.0 if hp == "less" else 0.0))


def _results_count(i, arch, dataset, seed, hp, epochs) -> ResultsCount:
    train = {e: 10.0 + e for e in range(epochs)}
    rc = ResultsCount(dataset, None, train, {e: 2.0 / (e + 1) for e in range(epochs)}, 0.37, 12.5,
                      {"name": "infer.tiny", "channel": 16, "num_cells": 5, "arch_str": arch,
                       "class_num": {"cifar100": 100, "ImageNet16-120": 120}.get(dataset, 10)},
                      seed, epochs, [0.0123])
    accs, losses, times = {}, {}, {}
    for s in EVAL_SETS[dataset]:
        for e in range(epochs):
            final = _value(i, dataset, s, seed, hp)
            accs[f"{s}@{e}"] = final if e == epochs - 1 else final - 7.0 - e * 0.01  # earlier epochs differ
            losses[f"{s}@{e}"] = 1.0 / (e + 1)
            times[f"{s}@{e}"] = 0.5
    rc.update_eval(accs, losses, times)
    return rc


def _seeds(i: int) -> tuple[int, ...]:
    return SEEDS[: 1 + i % 3]  # 1, 2 or 3 trials, as in the real file


def nb201_dict(archs: list[str], evaluated=None, full_epochs: int = 200) -> dict:
    evaluated = range(len(archs)) if evaluated is None else evaluated
    infos = {}
    for i in evaluated:
        entry = {}
        for hp, epochs in (("less", 12), ("full", full_epochs)):
            ar = ArchResults(i, archs[i])
            for dataset in EVAL_SETS:
                for seed in _seeds(i):
                    ar.update(dataset, seed, _results_count(i, archs[i], dataset, seed, hp, epochs))
            entry[hp] = ar.state_dict()
        infos[i] = entry
    return {"meta_archs": list(archs), "arch2infos": infos, "evaluated_indexes": list(evaluated)}


def expected_accuracy(i: int, dataset: str) -> float:
    return float(np.mean([_value(i, dataset, TEST_SET[dataset], s, "full") for s in _seeds(i)]))


@pytest.fixture(scope="module")
def small_nb201(tmp_path_factory):
    archs = _small_archs(7)
    path = tmp_path_factory.mktemp("nb201src") / "NAS-Bench-201-small.pth"
    torch.save(nb201_dict(archs), path)
    return path, archs


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-format"])
def test_nb201_every_value(tmp_path, legacy):
    archs = _small_archs(7)
    path = tmp_path / "NAS-Bench-201-small.pth"
    torch.save(nb201_dict(archs), path, _use_new_zipfile_serialization=not legacy)  # the 2020 file is legacy
    out = tmp_path / "folder"
    s = import_nb201(path, out)
    frame = _read(out / "accuracy.csv")
    assert list(frame.columns) == ["arch_index", "arch", "cifar10", "cifar100", "imagenet16_120"]
    assert frame["arch_index"].tolist() == list(range(7))
    assert frame["arch"].tolist() == archs
    for i in range(7):
        for dataset, col in COLUMN.items():
            assert frame[col][i] == expected_accuracy(i, dataset), (i, dataset)
    assert s["rows"] == 7 and s["complete"] is False and s["files"] == [str(out / "accuracy.csv")]
    assert any("partial" in p for p in s["problems"])


def test_nb201_matches_official_api(small_nb201, tmp_path):
    """Same numbers as NASBench201API built from the same file the usual way (path, its own torch.load)."""
    from nas_201_api import NASBench201API

    path, archs = small_nb201
    import_nb201(path, tmp_path)
    frame = _read(tmp_path / "accuracy.csv")
    api = NASBench201API(torch.load(path, weights_only=False), verbose=False)
    for i in range(len(archs)):
        assert frame["arch"][i] == api[i]
        for dataset, col in COLUMN.items():
            assert frame[col][i] == api.get_more_info(i, dataset, hp="200", is_random=False)["test-accuracy"]


def test_nb201_partial_file_is_written_but_refused_by_loader(tmp_path):
    archs = _small_archs(6)
    path = tmp_path / "partial.pth"
    torch.save(nb201_dict(archs, evaluated=[0, 2, 5], full_epochs=3), path)
    out = tmp_path / "partial-folder"
    s = import_nb201(path, out)
    frame = _read(out / "accuracy.csv")
    assert frame["arch_index"].tolist() == [0, 2, 5]
    assert frame["arch"].tolist() == [archs[0], archs[2], archs[5]]
    assert frame["cifar100"].tolist() == [expected_accuracy(i, "cifar100") for i in (0, 2, 5)]
    assert s["complete"] is False and s["rows"] == 3 and s["architectures_in_file"] == 6
    assert s["problems"] == [f"partial: 3 of {NUM_ARCHS:,} architectures have 200-epoch results"]
    with pytest.raises(HarnessError) as e:
        load_tables(str(out))
    _one_line(e, "accuracy.csv", str(NUM_ARCHS))


# --- HW-NAS-Bench pickle in the official layout -----------------------------------------------------------
def _hw_value(metric: str, dataset: str, i: np.ndarray) -> np.ndarray:
    return 1.0 + HW_METRICS.index(metric) * 0.5 + HW_DATASETS.index(dataset) * 100.0 + i * 0.001 + i / 7.0


def hw_dict(archs: list[str], as_list=("raspi4_latency",), ragged=("pixel3_latency",)) -> dict:
    n = len(archs)
    idx = np.arange(n)
    space = {}
    for dataset in HW_DATASETS:
        table = {}
        for m in HW_METRICS:
            v = _hw_value(m, dataset, idx)
            if m in as_list:
                v = [float(x) for x in v]
            elif m in ragged:  # object array of 1-element arrays / numpy scalars
                v = np.array([np.array([x]) if k % 2 else np.float64(x) for k, x in enumerate(v)], dtype=object)
            table[m] = v
        table["config"] = [{"name": "infer.tiny", "C": 16, "N": 5, "arch_str": a,
                            "num_classes": {"cifar10": 10, "cifar100": 100}.get(dataset, 120)} for a in archs]
        space[dataset] = table
    return {"nasbench201": space, "fbnet": {"edgegpu_latency": {"FC_Cin1504_Cout100": 0.1}}}


def _dump(obj, path):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)
    return path


@pytest.mark.parametrize("dataset", HW_DATASETS)
def test_hwnasbench_every_value(tmp_path, dataset):
    archs = _small_archs(9)
    path = _dump(hw_dict(archs), tmp_path / "HW-NAS-Bench-small.pickle")
    out = tmp_path / "folder"
    s = import_hwnasbench(path, out, dataset=dataset)
    lat = _read(out / "latency_ms.csv")
    en = _read(out / "energy_mj.csv")
    assert list(lat.columns) == ["arch_index", "fpga", "eyeriss", "pixel3", "raspi4", "edgegpu", "edgetpu"]
    assert list(en.columns) == ["arch_index", "fpga", "eyeriss", "edgegpu"]
    idx = np.arange(9)
    assert lat["arch_index"].tolist() == en["arch_index"].tolist() == idx.tolist()
    for frame, cols in ((lat, LATENCY_COLS), (en, ENERGY_COLS)):
        for col, metric in cols.items():
            assert frame[col].tolist() == _hw_value(metric, dataset, idx).tolist(), (col, dataset)
    assert s["dataset"] == dataset and s["rows"] == 9 and s["complete"] is False
    assert s["files"] == [str(out / "latency_ms.csv"), str(out / "energy_mj.csv")]
    assert s["missing_files"] == ["accuracy.csv"]
    assert not list(out.glob(".*tmp"))  # no temp files left behind


def test_hwnasbench_dataset_alias_and_dict_indexed_metrics(tmp_path):
    archs = _small_archs(4)
    data = hw_dict(archs)
    data["nasbench201"]["ImageNet16-120"]["fpga_latency"] = {
        i: v for i, v in enumerate(_hw_value("fpga_latency", "ImageNet16-120", np.arange(4)))}
    s = import_hwnasbench(_dump(data, tmp_path / "hw.pickle"), tmp_path / "out", dataset="imagenet16_120")
    assert s["dataset"] == "ImageNet16-120"
    lat = _read(tmp_path / "out" / "latency_ms.csv")
    assert lat["fpga"].tolist() == _hw_value("fpga_latency", "ImageNet16-120", np.arange(4)).tolist()


def test_hwnasbench_reports_nonpositive_values(tmp_path):
    data = hw_dict(_small_archs(3))
    data["nasbench201"]["cifar100"]["edgetpu_latency"] = np.array([1.0, 0.0, np.nan])
    s = import_hwnasbench(_dump(data, tmp_path / "hw.pickle"), tmp_path / "out")
    assert any("edgetpu" in p and "2 missing/non-positive" in p for p in s["problems"])


@pytest.fixture(scope="module")
def official_archs():
    frame = pd.read_csv(resolve_data_dir() / "accuracy.csv", usecols=["arch_index", "arch"])
    return frame.sort_values("arch_index")["arch"].tolist()


def test_hwnasbench_full_size_folder_loads(tmp_path, official_archs, monkeypatch):
    """15,625 architectures: the imported latency/energy plus an accuracy.csv (official arch strings,
    fake accuracies) form a folder that harness.data.load_tables accepts, without unpickling anything."""
    assert len(official_archs) == NUM_ARCHS
    folder = tmp_path / "full-folder"
    folder.mkdir()
    acc = pd.DataFrame({"arch_index": np.arange(NUM_ARCHS), "arch": official_archs})
    for k, col in enumerate(("cifar10", "cifar100", "imagenet16_120")):
        acc[col] = (np.arange(NUM_ARCHS) * (k + 3)) % 1000 / 10.0
    acc.to_csv(folder / "accuracy.csv", index=False)

    data = hw_dict(official_archs, as_list=(), ragged=())
    s = import_hwnasbench(_dump(data, tmp_path / "HW-NAS-Bench-v1_0.pickle"), folder)
    assert s["complete"] is True and s["problems"] == [] and s["missing_files"] == []
    assert s["rows"] == NUM_ARCHS and s["arch_check"] == f"matches {folder / 'accuracy.csv'}"

    def no_unpickling(*a, **k):
        raise AssertionError("reading a data folder must not unpickle")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(torch, "load", no_unpickling)
    tables = load_tables(str(folder))
    idx = np.arange(NUM_ARCHS)
    assert sorted(tables.latency) == sorted(LATENCY_COLS) and sorted(tables.energy) == sorted(ENERGY_COLS)
    for col, metric in LATENCY_COLS.items():
        np.testing.assert_allclose(tables.latency[col], _hw_value(metric, "cifar100", idx), rtol=1e-15)
    for col, metric in ENERGY_COLS.items():
        np.testing.assert_allclose(tables.energy[col], _hw_value(metric, "cifar100", idx), rtol=1e-15)
    assert tables.space.size == NUM_ARCHS


def test_hwnasbench_arch_order_must_match_existing_accuracy(tmp_path):
    archs = _small_archs(5)
    out = tmp_path / "out"
    out.mkdir()
    pd.DataFrame({"arch_index": range(5), "arch": archs, "cifar10": 1.0, "cifar100": 1.0,
                  "imagenet16_120": 1.0}).to_csv(out / "accuracy.csv", index=False)
    swapped = archs[:2] + [archs[3], archs[2]] + archs[4:]
    with pytest.raises(HarnessError) as e:
        import_hwnasbench(_dump(hw_dict(swapped), tmp_path / "hw.pickle"), out)
    _one_line(e, "hw.pickle", "arch_index 2")
    assert not (out / "latency_ms.csv").exists()


# --- bad input: one line naming the file ------------------------------------------------------------------
@pytest.mark.parametrize("importer", [import_nb201, import_hwnasbench], ids=["nb201", "hwnasbench"])
def test_missing_garbage_and_empty_files(tmp_path, importer):
    with pytest.raises(HarnessError) as e:
        importer(tmp_path / "nope.pth", tmp_path / "out")
    _one_line(e, "nope.pth", "no such file")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x17 definitely not a pickle\nsecond line\n" * 50)
    with pytest.raises(HarnessError) as e:
        importer(garbage, tmp_path / "out")
    _one_line(e, "garbage.bin", "not a readable")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(HarnessError) as e:
        importer(empty, tmp_path / "out")
    _one_line(e, "empty.bin", "not a readable")
    with pytest.raises(HarnessError) as e:
        importer(tmp_path, tmp_path / "out")
    _one_line(e, "not a file")
    assert not list((tmp_path / "out").glob("*.csv"))


def _nb201_broken(archs):
    good = nb201_dict(archs, full_epochs=2)
    no_full = {**good, "arch2infos": {0: {"less": good["arch2infos"][0]["less"], "full": {}}}}
    return [
        ([1, 2, 3], "found list"),
        ({"meta_archs": archs, "evaluated_indexes": []}, "missing key 'arch2infos'"),
        ({**good, "meta_archs": ["|bogus~0|"] + archs[1:]}, "meta_archs[0]"),
        ({**good, "arch2infos": {"a": {}}}, "not an index"),
        ({**good, "arch2infos": {0: {"less": {}}}}, "'less' and 'full'"),
        (no_full, "architecture 0: no 200-epoch test accuracy for cifar10"),
    ]


def test_nb201_wrong_structure(tmp_path):
    for k, (obj, part) in enumerate(_nb201_broken(_small_archs(2))):
        path = tmp_path / f"bad{k}.pth"
        torch.save(obj, path)
        with pytest.raises(HarnessError) as e:
            import_nb201(path, tmp_path / "out")
        _one_line(e, f"bad{k}.pth", part)
    assert not (tmp_path / "out" / "accuracy.csv").exists()


def test_hwnasbench_wrong_structure(tmp_path):
    archs = _small_archs(3)
    missing_metric = hw_dict(archs)
    del missing_metric["nasbench201"]["cifar100"]["fpga_energy"]
    short = hw_dict(archs)
    short["nasbench201"]["cifar100"]["edgegpu_latency"] = short["nasbench201"]["cifar100"]["edgegpu_latency"][:2]
    text = hw_dict(archs)
    text["nasbench201"]["cifar100"]["raspi4_latency"] = ["1.0", "fast", "2.0"]
    cases = [
        ([1, 2], "expected a dict with key 'nasbench201'"),
        ({"fbnet": {}}, "expected a dict with key 'nasbench201'"),
        ({"nasbench201": {"cifar10": {}}}, "no dataset 'cifar100'"),
        ({"nasbench201": {"cifar100": [1]}}, "must be a dict"),
        (missing_metric, "missing metric 'fpga_energy'"),
        (short, "different lengths"),
        (text, "['raspi4_latency'][1] is not a number"),
    ]
    for k, (obj, part) in enumerate(cases):
        path = _dump(obj, tmp_path / f"bad{k}.pickle")
        with pytest.raises(HarnessError) as e:
            import_hwnasbench(path, tmp_path / "out")
        _one_line(e, f"bad{k}.pickle", part)
    with pytest.raises(HarnessError) as e:
        import_hwnasbench(_dump(hw_dict(archs), tmp_path / "ok.pickle"), tmp_path / "out", dataset="mnist")
    _one_line(e, "mnist", "cifar100")


def test_out_dir_not_writable(tmp_path, small_nb201):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(HarnessError) as e:
        import_nb201(small_nb201[0], blocker)
    _one_line(e, "a-file", "not a folder")
    with pytest.raises(HarnessError) as e:
        import_hwnasbench(_dump(hw_dict(_small_archs(2)), tmp_path / "hw.pickle"), blocker / "sub")
    _one_line(e, "a-file")


# --- CLI -----------------------------------------------------------------------------------------------
def _data_parser():
    parser = argparse.ArgumentParser(prog="mathnas-bench")
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    register(data_sub)
    return parser, data_sub


def test_cli_help_warns_about_pickles():
    _, data_sub = _data_parser()
    for name in ("import-nb201", "import-hwnasbench"):
        p = data_sub.choices[name]
        text = " ".join(p.format_help().split())
        for phrase in ("pickle", "arbitrary code", "trusted source", "never unpickles"):
            assert phrase in text, (name, phrase)
    listing = [a.help for a in data_sub._choices_actions]
    assert all("pickle" in h and "trusted" in h for h in listing)


def test_cli_import_commands(tmp_path, small_nb201, capsys):
    parser, _ = _data_parser()
    out = tmp_path / "folder"
    args = parser.parse_args(["data", "import-nb201", str(small_nb201[0]), "--out", str(out)])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "7 of 15,625" in text and "INCOMPLETE" in text and str(out / "accuracy.csv") in text
    hw = _dump(hw_dict(small_nb201[1]), tmp_path / "hw.pickle")
    args = parser.parse_args(["data", "import-hwnasbench", str(hw), "--out", str(out), "--dataset", "cifar10"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "(cifar10)" in text and "latency_ms.csv" in text and "energy_mj.csv" in text
    assert f"matches {out / 'accuracy.csv'}" in text
    assert _read(out / "latency_ms.csv")["fpga"].tolist() == _hw_value("fpga_latency", "cifar10", np.arange(7)).tolist()


def test_cli_main_bad_file_is_one_line(tmp_path, capsys):
    from harness.cli import main

    bad = tmp_path / "bad.pickle"
    bad.write_bytes(b"garbage")
    assert main(["data", "import-hwnasbench", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "bad.pickle" in err and "Traceback" not in err
