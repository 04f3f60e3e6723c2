"""The baselines through the command line: the JSON of `predict` and `search` (small networks and few
epochs via --param, so the whole file stays within a few seconds of training)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCORE_KEYS = {"kendall_tau", "spearman", "mse", "mae", "precision_at_10", "precision_at_20", "kendall_tau_rounded"}
SEARCH_KEYS = {"arch", "arch_index", "true_accuracy", "true_latency", "true_energy", "true_flops", "feasible",
               "optimum_accuracy", "optimum_arch", "regret", "queries", "hw_queries", "search_seconds", "predicted"}
SMALL = ["--param", "epochs=2", "--param", "hidden=16", "--param", "latency_train_size=40",
         "--param", "references=16", "--param", "rounds=2"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_predict_brpnas_json_shape_from_a_subprocess():
    env = {**os.environ, "MATHNAS_BENCH_DATA": os.environ.get("MATHNAS_BENCH_DATA", str(ROOT.parent / "shared" / "nb201"))}
    cmd = [sys.executable, "-m", "harness.cli", "predict", "--method", "brpnas", "--train-size", "100", "--seed", "0",
           "--dataset", "cifar10", "--json", *SMALL, "--param", "threads=1"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert SCORE_KEYS <= set(out["accuracy"]) and SCORE_KEYS <= set(out["latency"]) and out["energy"] is None
    assert out["queries"] == 100 and out["hw_queries"] == 40 and out["fit_seconds"] > 0
    # a tiny GCN on 100 networks still ranks the space better than chance, and is scored on every architecture
    assert out["accuracy"]["kendall_tau"] > 0.2 and out["accuracy"]["n"] == out["latency"]["n"] == 15625


def test_predict_lana_json_shape_with_energy(capsys):
    out = run_json(capsys, ["predict", "--method", "lana", "--train-size", "100", "--seed", "0",
                            "--dataset", "cifar100", "--device", "pi5-onnx", "--json"])
    for metric in ("accuracy", "latency", "energy"):
        assert SCORE_KEYS <= set(out[metric])
    assert out["queries"] == 25 and out["hw_queries"] == 25 and "fit_seconds" in out
    assert out["latency"]["kendall_tau"] > 0.3   # measured around the teacher, yet informative


@pytest.mark.parametrize("method,extra", [("random", []), ("evolution", []), ("lana", []),
                                          ("brpnas", SMALL)])
def test_search_json_keys(capsys, method, extra):
    out = run_json(capsys, ["search", "--method", method, "--budget", "40", "--seed", "1", "--dataset", "cifar100",
                            "--device", "fpga", "--max-latency", "4.0", "--json", *extra])
    assert SEARCH_KEYS <= set(out)
    assert out["queries"] <= 40 and out["regret"] is not None and out["regret"] >= 0
    if method != "lana":   # LANA trusts its block-sum latency; the others check on the device
        assert out["feasible"]


def test_lana_budget_too_small_is_one_line_error(capsys):
    code = main(["search", "--method", "lana", "--budget", "10", "--dataset", "cifar10", "--device", "fpga", "--json"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "needs 25 evaluations" in err and "\n" not in err


def test_bad_brpnas_param_is_one_line_error(capsys):
    code = main(["predict", "--method", "brpnas", "--dataset", "cifar10", "--param", "mode=ternary", "--json"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "mode" in err and "\n" not in err
