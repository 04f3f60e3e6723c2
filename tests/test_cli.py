"""CLI contract of the foundation commands, and one-line errors (exit 2) for bad input and bad data."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from harness.cli import main
from spaces.nb201_data import resolve_data_dir

DATA = resolve_data_dir()


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_data_check(capsys):
    code, out, err = run(capsys, "data", "check", "--data", str(DATA))
    assert code == 0, err
    for text in ("15,625 architectures", "94.373", "73.513", "47.311", "pi5-onnx", "raspi4"):
        assert text in out


def test_optimum_json(capsys):
    code, out, _ = run(capsys, "optimum", "--dataset", "cifar100", "--device", "fpga", "--max-latency", "4.0", "--json")
    assert code == 0
    res = json.loads(out)
    assert {"arch", "arch_index", "accuracy", "latency", "energy", "flops", "feasible_count"} <= set(res)
    assert res["energy"] is None and res["latency"] <= 4.0


def test_optimum_with_energy(capsys):
    code, out, _ = run(capsys, "optimum", "--dataset", "cifar100", "--device", "pi5-onnx",
                       "--max-latency", "1.5", "--max-energy", "3", "--json")
    res = json.loads(out)
    assert code == 0 and res["latency"] <= 1.5 and res["energy"] <= 3


def test_pareto_csv(capsys, tmp_path):
    out_file = tmp_path / "front.csv"
    code, out, _ = run(capsys, "pareto", "--dataset", "cifar10", "--device", "fpga", "--out", str(out_file))
    assert code == 0
    front = pd.read_csv(out_file)
    assert list(front.columns) == ["arch_index", "arch", "accuracy_pct", "latency_ms"]   # units in the names
    assert front["latency_ms"].is_monotonic_increasing and front["accuracy_pct"].is_monotonic_increasing
    assert front["accuracy_pct"].max() == pytest.approx(94.373333)


def test_devices_lists_every_table_profile(capsys):
    code, out, _ = run(capsys, "devices", "--json")
    names = {d["name"] for d in json.loads(out)}
    assert code == 0 and {"fpga", "eyeriss", "raspi4", "pi5-onnx", "pixel-litert", "titanxp_256"} <= names


@pytest.mark.parametrize("argv, fragment", [
    (["optimum", "--dataset", "cifar1000", "--device", "fpga"], "unknown dataset 'cifar1000'"),
    (["optimum", "--dataset", "cifar10", "--device", "tpu9"], "unknown device 'tpu9'"),
    (["optimum", "--dataset", "cifar10", "--device", "fpga", "--max-latency", "0.001"], "smallest feasible"),
    (["optimum", "--dataset", "cifar10", "--device", "fpga", "--max-latency", "-3"], ">= 0"),
    (["optimum", "--dataset", "cifar10", "--device", "fpga", "--max-energy", "3"], "no energy"),
    (["optimum", "--dataset", "imagenet16_120", "--device", "pi5-onnx"], "no measurements for dataset"),
    (["optimum", "--dataset", "cifar10", "--device", "fpga", "--data", "/nonexistent/folder"], "does not exist"),
    (["optimum", "--dataset", "cifar10", "--device", "fpga", "--max-latency", "abc"], "invalid float value"),
    (["predict", "--method", "nope", "--dataset", "cifar10"], "unknown method 'nope'"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, fragment):
    code, out, err = run_catching(capsys, argv)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err


def run_catching(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse usage errors exit through SystemExit(2)
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def frames():
    return pd.read_csv(DATA / "accuracy.csv"), pd.read_csv(DATA / "latency_ms.csv")


def _folder(tmp_path, acc, lat, hw=True):
    acc.to_csv(tmp_path / "accuracy.csv", index=False)
    lat.to_csv(tmp_path / "latency_ms.csv", index=False)
    if hw:
        shutil.copy(DATA / "hw360.parquet", tmp_path / "hw360.parquet")
    return tmp_path


@pytest.mark.parametrize("corrupt, fragment", [
    (lambda a, l: (a.iloc[:-1], l), "expected 15625 rows, found 15624"),
    (lambda a, l: (a.drop(columns=["cifar100"]), l), "missing column 'cifar100'"),
    (lambda a, l: (a.assign(cifar10=a.cifar10.where(a.index != 7)), l), "NaN value"),
    (lambda a, l: (a.assign(cifar10=a.cifar10.astype(object).where(a.index != 3, "abc")), l), "non-numeric value 'abc'"),
    (lambda a, l: (a.assign(arch_index=a.arch_index.where(a.index != 5, 4)), l), "duplicated arch_index 4"),
    (lambda a, l: (a.assign(arch=a.arch.where(a.index != 9, "|bogus~0|+|none~0|none~1|+|none~0|none~1|none~2|")), l),
     "unknown op 'bogus'"),
    (lambda a, l: (a, l.drop(columns=["fpga"])), "no column for device 'fpga'"),
    (lambda a, l: (a, l.assign(fpga=-l.fpga)), "non-positive latency"),
])
def test_corrupt_data_folder_one_line_error(capsys, tmp_path, frames, corrupt, fragment):
    acc, lat = corrupt(*frames)
    folder = _folder(tmp_path, acc, lat)
    code, _, err = run_catching(capsys, ["optimum", "--dataset", "cifar10", "--device", "fpga", "--data", str(folder)])
    assert code == 2 and len(err.strip().splitlines()) == 1 and fragment in err, err


def test_missing_file_and_truncated_parquet(capsys, tmp_path, frames):
    folder = _folder(tmp_path, *frames, hw=False)
    (folder / "latency_ms.csv").unlink()
    code, _, err = run_catching(capsys, ["data", "check", "--data", str(folder)])
    assert code == 2 and "latency_ms.csv: missing data file" in err
    folder2 = tmp_path / "b"
    folder2.mkdir()
    _folder(folder2, *frames, hw=False)
    (folder2 / "hw360.parquet").write_bytes((DATA / "hw360.parquet").read_bytes()[:5000])
    code, _, err = run_catching(capsys, ["data", "check", "--data", str(folder2)])
    assert code == 2 and "hw360.parquet: unreadable Parquet" in err and len(err.strip().splitlines()) == 1
