"""The catalogue of bad inputs: each gets ONE line on stderr naming what is wrong and exit code 2,
never a traceback and never a silently wrong number. Add a case here for every new way to go wrong."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from harness.cli import main
from spaces.nb201_data import resolve_data_dir

DATA = resolve_data_dir()
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
GOOD_SUITE = """
name = "t"
datasets = ["cifar10"]
devices = ["fpga"]
seeds = 1
tasks = ["search"]
[[limits]]
latency = 4.0
[[methods]]
name = "mathnas"
"""


@pytest.fixture(scope="module")
def frames():
    return pd.read_csv(DATA / "accuracy.csv"), pd.read_csv(DATA / "latency_ms.csv")


def data_folder(tmp, frames, corrupt=None, drop=None):
    acc, lat = frames
    if corrupt:
        acc, lat = corrupt(acc, lat)
    acc.to_csv(tmp / "accuracy.csv", index=False)
    lat.to_csv(tmp / "latency_ms.csv", index=False)
    shutil.copy(DATA / "hw360.parquet", tmp / "hw360.parquet")
    if drop:
        (tmp / drop).unlink()
    return str(tmp)


def suite(tmp, text):
    path = tmp / "suite.toml"
    path.write_text(text)
    return str(path)


def device_file(tmp, text, name="mydev.csv"):
    path = tmp / name
    path.write_text(text)
    return str(path)


def old_store(tmp):
    store = tmp / "store"
    store.mkdir()
    (store / "store.json").write_text(json.dumps({"schema_version": 0}))
    return str(store)


opt = ["optimum", "--dataset", "cifar10", "--device", "fpga"]
search = ["search", "--method", "mathnas", "--dataset", "cifar10", "--device", "fpga", "--max-latency", "4"]
predict = ["predict", "--method", "mathnas", "--dataset", "cifar10", "--device", "fpga"]

# (id, argv builder taking (tmp, frames), fragment the one line must contain)
CASES = [
    ("unknown-dataset", lambda t, f: ["optimum", "--dataset", "mnist", "--device", "fpga"], "unknown dataset 'mnist'"),
    ("unknown-device", lambda t, f: ["optimum", "--dataset", "cifar10", "--device", "tpu"], "unknown device 'tpu'"),
    ("unknown-method", lambda t, f: ["search", "--method", "darts", "--dataset", "cifar10", "--max-latency", "4"],
     "unknown method 'darts'"),
    ("unknown-solver", lambda t, f: search + ["--solver", "cplex"], "unknown solver 'cplex'"),
    ("unknown-variant", lambda t, f: predict + ["--variant", "magic"], "magic"),
    ("unknown-metric-costs", lambda t, f: ["pareto", "--dataset", "cifar10", "--device", "fpga", "--costs", "watts",
                                           "--out", str(t / "p.csv")], "unknown metric 'watts'"),
    ("arch-unknown-op", lambda t, f: ["arch", ARCH.replace("avg_pool_3x3", "max_pool_3x3")], "unknown op 'max_pool_3x3'"),
    ("arch-wrong-edges", lambda t, f: ["arch", "|none~0|+|none~0|+|none~0|none~1|none~2|"], "node 2 needs 2 edge(s)"),
    ("arch-wrong-groups", lambda t, f: ["arch", "|none~0|+|none~0|none~1|"], "expected 3 node groups"),
    ("data-folder-missing", lambda t, f: opt + ["--data", str(t / "nope")], "does not exist"),
    ("data-file-missing", lambda t, f: opt + ["--data", data_folder(t, f, drop="accuracy.csv")],
     "accuracy.csv: missing data file"),
    ("data-truncated-rows", lambda t, f: opt + ["--data", data_folder(t, f, lambda a, l: (a.iloc[:100], l))],
     "expected 15625 rows, found 100"),
    ("data-wrong-row-count", lambda t, f: opt + ["--data", data_folder(t, f, lambda a, l: (a, l.iloc[:-3]))],
     "expected 15625 rows, found 15622"),
    ("data-duplicated-index", lambda t, f: opt + ["--data", data_folder(
        t, f, lambda a, l: (a, l.assign(arch_index=l.arch_index.where(l.index != 1, l.arch_index[0]))))],
     "duplicated arch_index"),
    ("data-non-numeric", lambda t, f: opt + ["--data", data_folder(
        t, f, lambda a, l: (a, l.assign(fpga=l.fpga.astype(object).where(l.index != 2, "fast"))))],
     "non-numeric value 'fast'"),
    ("data-nan", lambda t, f: opt + ["--data", data_folder(
        t, f, lambda a, l: (a.assign(cifar100=a.cifar100.where(a.index != 11)), l))], "NaN value"),
    ("data-missing-column", lambda t, f: opt + ["--data", data_folder(
        t, f, lambda a, l: (a.drop(columns=["arch"]), l))], "missing column 'arch'"),
    ("data-corrupt-parquet", lambda t, f: ["data", "check", "--data", _truncate_parquet(t, f)], "unreadable Parquet"),
    ("suite-unknown-key", lambda t, f: ["run", suite(t, "colour = 'red'\n" + GOOD_SUITE), "--out", str(t / "o"),
                                        "--dry-run"], "colour"),
    ("suite-wrong-type", lambda t, f: ["run", suite(t, GOOD_SUITE.replace("seeds = 1", "seeds = 'many'")),
                                       "--out", str(t / "o"), "--dry-run"], "seeds"),
    ("suite-negative-budget", lambda t, f: ["run", suite(t, GOOD_SUITE + "budget = -5\n"), "--out", str(t / "o"),
                                            "--dry-run"], "budget"),
    ("suite-negative-limit", lambda t, f: ["run", suite(t, GOOD_SUITE.replace("latency = 4.0", "latency = -4.0")),
                                           "--out", str(t / "o"), "--dry-run"], "latency"),
    ("suite-unknown-method-param", lambda t, f: ["run", suite(t, GOOD_SUITE + "colour = 'red'\n"), "--out",
                                                 str(t / "o"), "--dry-run"], "colour"),
    ("suite-invalid-toml", lambda t, f: ["run", suite(t, "name = [unclosed"), "--out", str(t / "o")], "invalid TOML"),
    ("suite-missing", lambda t, f: ["run", str(t / "none.toml"), "--out", str(t / "o")], "no such suite file"),
    ("negative-budget", lambda t, f: search + ["--budget", "-3"], "budget"),
    ("negative-limit", lambda t, f: opt + ["--max-latency", "-1"], ">= 0"),
    ("limit-not-a-number", lambda t, f: opt + ["--max-latency", "fast"], "invalid float value"),
    ("infeasible-limits", lambda t, f: opt + ["--max-latency", "0.01"], "smallest feasible"),
    ("infeasible-search", lambda t, f: search[:-1] + ["0.01"], "smallest feasible"),
    ("energy-on-latency-only-device", lambda t, f: opt + ["--max-energy", "2"], "no energy"),
    ("dataset-not-measured-on-device", lambda t, f: ["optimum", "--dataset", "imagenet16_120", "--device", "pi5-onnx"],
     "no measurements for dataset"),
    ("device-file-missing-column", lambda t, f: opt[:-1] + ["mydev", "--device-file",
                                                            device_file(t, "arch_index,speed\n0,1\n")], "latency_ms"),
    ("device-file-bad-arch", lambda t, f: opt[:-1] + ["mydev", "--device-file",
                                                      device_file(t, "arch,latency_ms\n|x~0|,1\n")], "mydev.csv"),
    ("device-file-missing", lambda t, f: opt[:-1] + ["mydev", "--device-file", str(t / "absent.csv")], "absent.csv"),
    ("param-without-equals", lambda t, f: predict + ["--param", "fraction"], "KEY=VALUE"),
    ("solver-unavailable-over-licence-or-absent", lambda t, f: ["solvers", "--instances", "small", "--backends",
                                                               "nosuchsolver"], "nosuchsolver"),
    ("store-older-schema", lambda t, f: ["report", old_store(t), "--out", str(t / "r")], "schema"),
    ("unknown-command", lambda t, f: ["frobnicate"], "invalid choice"),
]


def _truncate_parquet(tmp, frames):
    folder = data_folder(tmp, frames)
    path = tmp / "hw360.parquet"
    path.write_bytes(path.read_bytes()[:4096])
    return folder


def test_catalogue_is_large_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_one_line_exit_2(tmp_path, frames, capsys, argv, fragment):
    args = argv(tmp_path, frames)
    try:
        code = main(args)
    except SystemExit as e:  # argparse usage errors
        code = e.code
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in err
