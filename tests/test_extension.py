"""A plug-in of each kind defined outside the package tree runs through the command line of a fresh
interpreter, found only through its distribution's entry points (tests/plugins, as `pip install` leaves it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow   # fresh interpreters, several seconds each

ROOT = Path(__file__).resolve().parents[1]


def cli(*argv) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests" / "plugins")]))
    return subprocess.run([sys.executable, "-m", "harness.cli", *argv], capture_output=True, text=True, env=env,
                          timeout=300)


def test_space_device_method_and_solver_of_a_plugin_through_the_cli():
    spaces = json.loads(cli("spaces", "--json").stdout)
    chain = next(s for s in spaces if s["name"] == "chain4")
    assert chain["size"] == 81 and "toy-npu" in chain["devices"] and "toy" in chain["tasks"]

    best = json.loads(cli("optimum", "--space", "chain4", "--dataset", "toy", "--device", "toy-npu",
                          "--max-latency", "2", "--json").stdout)
    assert best["arch"] == "medium-medium-medium-small" and best["latency"] <= 2

    found = json.loads(cli("search", "--space", "chain4", "--dataset", "toy", "--device", "toy-npu",
                           "--max-latency", "2", "--method", "hill", "--budget", "20", "--json").stdout)
    assert found["feasible"] is True and found["queries"] <= 20 and found["regret"] >= 0

    exact = json.loads(cli("search", "--space", "chain4", "--dataset", "toy", "--device", "toy-npu",
                           "--max-latency", "2", "--method", "mathnas", "--solver", "brute", "--json").stdout)
    assert exact["solver"] == "brute" and exact["status"] == "optimal"


def test_variant_and_solver_benchmark_of_a_plugin_through_the_cli():
    out = cli("predict", "--method", "mathnas", "--variant", "multi", "--param", "contexts=2", "--dataset",
              "cifar10", "--device", "fpga", "--json")
    rep = json.loads(out.stdout)
    assert rep["queries"] == 2 * 25 + 1 and rep["latency"]["kendall_tau"] > 0.99
    out = cli("solvers", "--instances", "small", "--backends", "enumerate,brute", "--quiet", "--json")
    rows = {r["backend"]: r for r in json.loads(out.stdout)}
    assert rows["brute"]["agree"] == rows["brute"]["instances"] == 24
