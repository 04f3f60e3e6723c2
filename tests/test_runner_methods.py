"""Small methods the runner tests plug in through `entry = "test_runner_methods:Class"` (no registry change).

They use the real oracle and real ground truth; they are cheap so the tests stay fast."""
from __future__ import annotations

import os
import time

import numpy as np

from core.protocols import MethodBase, SearchResult


class Additive(MethodBase):
    """Per-(edge, op) mean accuracy of the oracle's budget of random architectures (30 when unlimited);
    search = best predicted among those predicted to meet the limits (a seeded toy predictor-searcher)."""

    def __init__(self, seed=0):
        self.seed = seed

    def fit(self, oracle):
        n = 30 if oracle.remaining is None else oracle.remaining
        rng = np.random.default_rng(self.seed)
        codes = oracle.space.enumerate()[rng.choice(15625, size=n, replace=False)]
        acc = oracle.accuracy(codes)
        self.table = np.zeros((6, 5))
        for e in range(6):
            for o in range(5):
                sel = codes[:, e] == o
                self.table[e, o] = acc[sel].mean() if sel.any() else acc.mean()
        if oracle.gt.latency is not None:
            lat = oracle.latency(codes)
            self.lat = np.array([[lat[codes[:, e] == o].mean() if (codes[:, e] == o).any() else lat.mean()
                                  for o in range(5)] for e in range(6)]) / 6

    def predict(self, codes):
        out = {"accuracy": self.table[np.arange(6), codes].sum(axis=1)}
        if hasattr(self, "lat"):
            out["latency"] = self.lat[np.arange(6), codes].sum(axis=1)
        return out

    def search(self, problem, oracle):
        self.fit(oracle)
        codes = oracle.space.enumerate()
        pred = self.predict(codes)
        ok = np.ones(len(codes), bool)
        if "latency" in problem.limits and "latency" in pred:
            ok &= pred["latency"] <= problem.limits["latency"]
        score = np.where(ok, pred["accuracy"], -np.inf)
        best = int(np.argmax(score))
        return SearchResult(codes[best], {"accuracy": float(pred["accuracy"][best])},
                            {"candidates": int(ok.sum()), "solve_seconds": 0.001})


class Failing(Additive):
    """Raises in search on one dataset only, so the rest of the suite can complete."""

    def search(self, problem, oracle):
        if problem.dataset == "cifar100":
            raise RuntimeError("deliberate failure on cifar100")
        return super().search(problem, oracle)


class Sleepy(Additive):
    """Slow enough (about 0.3 s a cell) that a run can be killed half-way."""

    def search(self, problem, oracle):
        time.sleep(float(os.environ.get("SLEEPY_SECONDS", "0.3")))
        return super().search(problem, oracle)


# --- helpers shared by tests/test_runner*.py, test_store*.py and test_reports*.py -------------------------
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(REPO, "tests")

TINY = """
name = "tiny"
datasets = ["cifar10", "cifar100"]
devices = ["fpga", "pi5-onnx"]
seeds = 2
sample_size = 50
[[limits]]
latency_quantiles = [0.3, 0.7]
[[methods]]
name = "additive"
entry = "test_runner_methods:Additive"
budget = 25
"""


def write_suite(folder, text: str, name: str = "suite.toml"):
    path = os.path.join(str(folder), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def subprocess_env(**extra) -> dict:
    """Environment for a `python -m harness.cli` child: the repo and tests importable, the data folder set."""
    from spaces.nb201_data import resolve_data_dir

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO, TESTS, env.get("PYTHONPATH", "")])
    env["MATHNAS_BENCH_DATA"] = str(resolve_data_dir())
    env.update(extra)
    return env
