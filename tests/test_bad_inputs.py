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
    # --- numbers that would reach numpy/torch unchecked ---------------------------------------------------------
    ("negative-seed-mathnas", lambda t, f: search + ["--seed", "-1"], "seed must be >= 0"),
    ("huge-seed-random", lambda t, f: search[:2] + ["random"] + search[3:] + ["--seed", str(2**40)], "seed must be <="),
    ("negative-seed-brpnas", lambda t, f: predict[:2] + ["brpnas"] + predict[3:] + ["--seed", "-7"], "seed"),
    ("zero-budget", lambda t, f: search + ["--budget", "0"], "--budget must be >= 1"),
    ("negative-train-size", lambda t, f: predict + ["--train-size", "-2"], "--budget must be >= 1"),
    ("train-size-and-budget-disagree", lambda t, f: predict + ["--train-size", "20", "--budget", "30"], "disagree"),
    ("negative-time-limit", lambda t, f: search + ["--param", "time_limit=-1"], "time_limit must be > 0"),
    ("fraction-out-of-range", lambda t, f: predict + ["--variant", "sampled", "--param", "fraction=2.0"],
     "fraction must be <= 1"),
    ("fraction-not-a-number", lambda t, f: predict + ["--variant", "sampled", "--param", "fraction=lots"],
     "fraction must be a number"),
    ("negative-hw-budget", lambda t, f: search + ["--hardware", "blind", "--hw-budget", "-1"], "hardware budget"),
    ("negative-hw-cost", lambda t, f: search + ["--hardware", "charged", "--hw-cost", "-0.5"], "hardware cost"),
    ("sample-negative", lambda t, f: ["devices", "measure", "local-cpu", "--sample", "-3"], "--sample"),
    ("sampled-over-budget-names-fraction", lambda t, f: predict + ["--variant", "sampled", "--budget", "100"],
     "--param fraction"),
    # --- --param keys that collide with options ------------------------------------------------------------------
    ("param-seed", lambda t, f: predict + ["--param", "seed=3"], "seed is an option of its own"),
    ("param-budget", lambda t, f: predict + ["--param", "budget=3"], "budget is an option of its own"),
    ("param-method", lambda t, f: predict + ["--param", "method=lana"], "method is an option of its own"),
    ("param-twice", lambda t, f: predict + ["--param", "base=largest", "--param", "base=smallest"], "given twice"),
    ("plugin-variant-raises", lambda t, f: predict + ["--variant", "oops", "--param",
                                                      "plugin=" + _plugin(t, "raise RuntimeError('kaput')")],
     "MathNAS variant 'oops' failed: RuntimeError: kaput"),
    ("plugin-variant-bad-param", lambda t, f: predict + ["--variant", "oops", "--param",
                                                         "plugin=" + _plugin(t, "pass"), "--param", "colour=1"],
     "takes no parameter 'colour'"),
    ("plugin-file-syntax-error", lambda t, f: predict + ["--variant", "oops", "--param",
                                                         "plugin=" + _plugin(t, "def (")], "failed to import"),
    # --- outputs that cannot be written ------------------------------------------------------------------------
    ("pareto-out-is-a-folder", lambda t, f: ["pareto", "--dataset", "cifar10", "--device", "fpga", "--out", str(t)],
     "is a folder"),
    ("pareto-out-dev-null", lambda t, f: ["pareto", "--dataset", "cifar10", "--device", "fpga", "--out", "/dev/null"],
     "not a regular file"),
    ("pareto-out-under-proc", lambda t, f: ["pareto", "--dataset", "cifar10", "--device", "fpga", "--out",
                                            "/proc/mathnas/front.csv"], "cannot write here"),
    ("report-out-is-a-file", lambda t, f: ["report", _store(t), "--out", _file(t)], "exists and is not a folder"),
    ("run-out-is-a-file", lambda t, f: ["run", suite(t, GOOD_SUITE), "--out", _file(t)], "exists and is not a folder"),
    ("run-out-under-sys", lambda t, f: ["run", suite(t, GOOD_SUITE), "--out", "/sys/mathnas-store"], "cannot create"),
    ("regress-update-into-folder", lambda t, f: ["regress", _store(t), "--baseline", str(t), "--update"],
     "is a folder"),
    # --- too big, too deep, not a file ---------------------------------------------------------------------------
    ("suite-nested-too-deep", lambda t, f: ["run", suite(t, "x = " + "[" * 5000 + "]" * 5000), "--out",
                                            str(t / "o"), "--dry-run"], "suite.toml"),
    ("suite-too-many-seeds", lambda t, f: ["run", suite(t, GOOD_SUITE.replace("seeds = 1", "seeds = 100000000")),
                                           "--out", str(t / "o"), "--dry-run"], "count of seeds must be in 1..1000"),
    ("suite-is-a-fifo", lambda t, f: ["run", _fifo(t), "--out", str(t / "o"), "--dry-run"], "not a regular file"),
    ("suite-is-a-folder", lambda t, f: ["run", str(t), "--out", str(t / "o"), "--dry-run"], "not a regular file"),
    ("suite-too-large", lambda t, f: ["run", suite(t, "# " + "x" * 2_000_000), "--out", str(t / "o")], "at most"),
    ("arch-100kb", lambda t, f: ["arch", "|" + "x" * 100_000], "characters)"),
    # --- Ray ----------------------------------------------------------------------------------------------------
    ("ray-address-unparsable", lambda t, f: ["run", suite(t, GOOD_SUITE), "--out", str(t / "o"), "--executor", "ray",
                                             "--address", "not an address"], "expected HOST:PORT"),
    # --- silent wrong answers -------------------------------------------------------------------------------------
    ("hw360-negative-latency", lambda t, f: opt[:-1] + ["pi5-onnx", "--data", _hw360(t, f, "lat_ms_median", -5.0)],
     "latency must be > 0"),
    ("hw360-zero-energy", lambda t, f: opt[:-1] + ["pi5-onnx", "--data", _hw360(t, f, "energy_mj", 0.0)],
     "energy must be > 0"),
    ("device-file-zero-latency", lambda t, f: opt[:-1] + ["mydev", "--device-file",
                                                          device_file(t, "arch_index,latency_ms\n0,0\n")], "> 0"),
    ("device-file-duplicated-column", lambda t, f: opt[:-1] + ["mydev", "--device-file", device_file(
        t, "arch_index,latency_ms,latency_ms\n0,1,2\n")], "appears twice"),
    ("device-file-empty-path", lambda t, f: opt + ["--device-file", ""], "empty path"),
    ("data-arch-strings-swapped", lambda t, f: opt + ["--data", data_folder(t, f, _swap)], "official NAS-Bench-201 order"),
    ("costs-repeated", lambda t, f: ["pareto", "--dataset", "cifar10", "--device", "fpga", "--costs",
                                     "latency,latency", "--out", str(t / "p.csv")], "must differ"),
    ("suite-exclude-unknown-device", lambda t, f: ["run", suite(t, GOOD_SUITE + "[[exclude]]\ndevice = 'toaster'\n"),
                                                   "--out", str(t / "o"), "--dry-run"], "exclude[0].device"),
    ("suite-limits-device-not-in-suite", lambda t, f: ["run", suite(t, GOOD_SUITE.replace(
        "latency = 4.0", "latency = 4.0\ndevices = ['eyeriss']")), "--out", str(t / "o"), "--dry-run"],
     "not among the suite's devices"),
    # --- validated completely before anything runs -----------------------------------------------------------------
    ("suite-sampled-fraction-2", lambda t, f: ["run", suite(t, GOOD_SUITE + "variant = 'sampled'\nfraction = 2.0\n"),
                                               "--out", str(t / "o"), "--dry-run"], "methods[0].fraction"),
    ("suite-infeasible-absolute-limit", lambda t, f: ["run", suite(t, GOOD_SUITE.replace("latency = 4.0",
                                                                                       "latency = 0.01")),
                                                      "--out", str(t / "o"), "--dry-run"], "no architecture"),
    # --- the store ---------------------------------------------------------------------------------------------------
    ("store-multi-row-cell-file", lambda t, f: ["report", _store(t, extra_rows=True), "--out", str(t / "r")],
     "exactly one row"),
    ("store-json-not-utf8", lambda t, f: ["report", _store(t, bad_json=True), "--out", str(t / "r")],
     "unreadable store description"),
]


def _plugin(tmp, body: str) -> str:
    path = tmp / "oops_plugin.py"
    path.write_text("from mathnas.variants import register_variant\n\n@register_variant('oops')\n"
                    f"def oops(prof):\n    {body}\n")
    return str(path)


def _file(tmp):
    path = tmp / "a_file.txt"
    path.write_text("x")
    return str(path)


def _fifo(tmp):
    import os

    path = tmp / "suite.fifo"
    os.mkfifo(path)
    return str(path)


def _store(tmp, extra_rows=False, bad_json=False):
    """A tiny valid store (one row), optionally with a foreign multi-row file or a corrupt store.json."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from harness.store import ResultStore

    root = tmp / "store"
    store = ResultStore(root, create=True)
    store.write({"key": "k" * 64, "cell": "{}", "task": "search", "status": "ok", "seed": 0, "label": "x",
                 "method": "x", "dataset": "cifar10", "device": "fpga", "regret": 1.0, "feasible": True,
                 "queries": 3, "search_seconds": 0.1})
    if extra_rows:
        pq.write_table(pa.table({"key": ["a", "b"], "status": ["ok", "ok"]}), root / "cells" / ("a" * 64 + ".parquet"))
    if bad_json:
        (root / "store.json").write_bytes(b"\xff\xfe\x00garbage")
    return str(root)


def _hw360(tmp, frames, column, value):
    folder = data_folder(tmp, frames)
    frame = pd.read_parquet(tmp / "hw360.parquet")
    frame.loc[frame.index[7], column] = value
    frame.to_parquet(tmp / "hw360.parquet")
    return folder


def _swap(acc, lat):
    arch = acc["arch"].copy()
    arch.iloc[3], arch.iloc[4] = arch.iloc[4], arch.iloc[3]
    return acc.assign(arch=arch), lat


def _truncate_parquet(tmp, frames):
    folder = data_folder(tmp, frames)
    path = tmp / "hw360.parquet"
    path.write_bytes(path.read_bytes()[:4096])
    return folder


def test_catalogue_is_large_enough():
    assert len(CASES) >= 80


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
