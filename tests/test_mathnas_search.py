"""MathNAS search: the Eq. 6 fractional ILP matches brute force over the predictor, results are re-scored
with ground truth, predicted infeasibility is reported, Eq. 9 variable depth, the NB201 ILP family, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

import pandas as pd

from core.sources import Sources
from harness.cli import main
from evaluation.evaluate import search_report
from evaluation.groundtruth import ground_truth
from core.oracle import Oracle
from core.protocols import Problem
from mathnas.blocks import FunctionEvaluator, Profiler, SpaceSpec
from analyses.claims import COLUMNS, to_markdown
from analyses.solver_bench import nb201 as nb201_family
from mathnas.ilp import build_problem
from mathnas.method import MathNAS
from mathnas.variants import run_variant
from solvers import backend_names, solve
from core.codes import product_codes
from core.protocols import BlockCosts

EXACT = [b for b in ("enumerate", "highs") if b in backend_names()]


def brute_force(predicted_acc, feasible):
    vals = np.where(feasible, predicted_acc, -np.inf)
    return int(np.argmax(vals)), float(vals.max())


@pytest.mark.parametrize("solver", EXACT)
@pytest.mark.parametrize("flops_scaling", [True, False])
def test_search_is_predictor_optimum_and_rescored(solver, flops_scaling):
    gt = ground_truth("cifar100", "pi5-onnx")
    limits = {"latency": float(np.quantile(gt.latency, 0.5)), "energy": float(np.quantile(gt.energy, 0.4))}
    rep = search_report("mathnas", Problem("cifar100", "pi5-onnx", limits), solver=solver, flops_scaling=flops_scaling)
    assert rep["status"] == "optimal" and rep["solver"] == solver
    # the ILP optimum is the best predicted architecture among the predicted-feasible ones
    m = MathNAS(flops_scaling=flops_scaling).fit(Oracle(gt))
    pred = m.predict(gt.codes)
    ok = (pred["latency"] <= limits["latency"] + 1e-9) & (pred["energy"] <= limits["energy"] + 1e-9)
    _, best = brute_force(pred["accuracy"], ok)
    assert rep["predicted_objective"] == pytest.approx(best, rel=1e-6)
    assert rep["predicted"]["accuracy"] == pytest.approx(best, rel=1e-6)
    # and the harness re-scored the found architecture with the truth
    row = rep["arch_index"]
    assert rep["true_accuracy"] == gt.accuracy[row] and rep["true_latency"] == gt.latency[row]
    assert rep["feasible"] == bool(gt.latency[row] <= limits["latency"] and gt.energy[row] <= limits["energy"])
    assert rep["regret"] == pytest.approx(rep["optimum_accuracy"] - rep["true_accuracy"])
    assert rep["queries"] == 26


def test_predicted_infeasible_is_reported(tmp_path):
    """A device whose fastest architecture is one the blocks cannot see: truly feasible, predicted not."""
    dip = np.array([0, 1, 4, 0, 1, 4])
    fpga = ground_truth("cifar10", "fpga")
    lat = fpga.latency.copy()
    row = int(fpga.space.index(dip[None])[0])
    lat[row] = 0.5 * lat.min()
    path = tmp_path / "test-dip.csv"
    pd.DataFrame({"arch_index": np.arange(lat.size), "latency_ms": lat}).to_csv(path, index=False)
    sources = Sources(device_files=(str(path),))
    gt = ground_truth("cifar10", "test-dip", sources)
    limit = float(gt.latency.min())
    rep = search_report("mathnas", Problem("cifar10", "test-dip", {"latency": limit}), data=sources)
    assert rep["status"] == "infeasible" and rep["arch"] is None
    assert rep["feasible"] is False and rep["regret"] is None and rep["optimum_accuracy"] is not None
    res = MathNAS().search(Problem("cifar10", "test-dip", {"latency": limit}), Oracle(gt))
    assert res.code is None and res.extra["status"] == "infeasible"


# --- Eq. 9: variable depth ---------------------------------------------------------------------------
def depth_space():
    """4 nodes; nodes 1..3 have a last choice "skip" (zero FLOPs, zero latency). Skipping node 1 alone
    would be attractive (cheap, small loss) but Eq. 9 forces nodes 2 and 3 to be skipped too."""
    n = (3, 3, 3, 3)
    acc = ([0, 2, 4], [0, 1, -0.2], [0, 3, -4], [1, 4, -4])
    lat = ([1, 2, 3], [1, 2, 0], [1, 1.5, 0], [1, 2, 0])
    flops = tuple(np.array([2e5, 5e5, 0.0]) if i else np.array([2e5, 5e5, 9e5]) for i in range(4))

    def truth(metric, codes):
        codes = np.atleast_2d(codes)
        table = acc if metric == "accuracy" else lat
        base = 50.0 if metric == "accuracy" else 1.0
        return base + sum(np.asarray(table[i])[codes[:, i]] for i in range(4))

    costs = BlockCosts(flops, 1e6, tuple(np.zeros(3) for _ in range(4)), 0.0)
    return SpaceSpec(n, costs, skip_from=1, name="depth"), truth


def depth_valid(codes, skip_from=1):
    ok = np.ones(len(codes), dtype=bool)
    for i in range(skip_from, codes.shape[1] - 1):
        ok &= (codes[:, i] != 2) | (codes[:, i + 1] == 2)
    return ok


@pytest.mark.parametrize("flops_scaling", [False, True])
def test_variable_depth_ilp_matches_enumeration(flops_scaling):
    spec, truth = depth_space()
    tables = run_variant("single", Profiler(spec, FunctionEvaluator(truth, metrics=("accuracy", "latency"))))
    limit = 6.0
    problem = build_problem(tables, spec, {"latency": limit}, flops_scaling=flops_scaling)
    assert problem.skip_from == 1
    codes = product_codes(spec.num_choices)
    pred = tables.predict(codes, flops_scaling=flops_scaling)
    ok = pred["latency"] <= limit + 1e-9
    k, best = brute_force(pred["accuracy"], ok & depth_valid(codes))
    k_free, _ = brute_force(pred["accuracy"], ok)
    assert not depth_valid(codes[k_free:k_free + 1])[0], "the test space must make Eq. 9 bind"
    for backend in EXACT:
        sol = solve(problem, backend=backend)
        assert sol.status == "optimal", (backend, sol.reason)
        assert sol.objective == pytest.approx(best, rel=1e-9), backend
        assert depth_valid(np.asarray(sol.code)[None])[0] and problem.feasible(sol.code)[0]
        assert problem.objective(sol.code)[0] == pytest.approx(problem.objective(codes[k])[0], rel=1e-9)


def test_nb201_family():
    problems = nb201_family(0)
    assert len(problems) == 36 and len({p.name for p in problems}) == 36
    for p in problems:
        names = {c.name for c in p.constraints}
        assert p.is_ratio and p.num_choices == (5,) * 6
        assert names == ({"latency", "energy"} if "/pi5-onnx/" in p.name else {"latency"})
    sol = solve(problems[1], backend="enumerate")
    assert sol.status == "optimal"


# --- CLI ---------------------------------------------------------------------------------------------
def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_predict_and_search(capsys):
    code, out, err = run(capsys, "predict", "--method", "mathnas", "--variant", "single", "--dataset", "cifar10",
                         "--device", "fpga", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["queries"] == 26 and res["latency"]["kendall_tau"] > 0.99 and res["energy"] is None
    code, out, err = run(capsys, "search", "--method", "mathnas", "--dataset", "cifar100", "--device", "fpga",
                         "--max-latency", "4.0", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["true_latency"] <= 4.0 and res["feasible"] and res["status"] == "optimal"
    assert {"solver", "solve_seconds", "predicted_objective"} <= set(res)
    code, out, err = run(capsys, "predict", "--method", "mathnas", "--variant", "single", "--dataset", "cifar10",
                         "--param", "base=conv_9x9")
    assert code == 2 and "base 'conv_9x9'" in err and len(err.strip().splitlines()) == 1


def test_claims_markdown_shape():
    rows = [{"claim": "x", "source": "Fig. 3", "paper": 0.97, "ours": 0.6, "delta": -0.37, "verdict": "differs",
             "how": "a|b"}]
    text = to_markdown(rows)
    assert text.splitlines()[0] == "| " + " | ".join(COLUMNS) + " |"
    assert "-0.37" in text and "a\\|b" in text


@pytest.mark.slow
def test_claims_table_runs():
    from analyses.claims import claims_table

    rows = claims_table()
    assert all(set(COLUMNS) == set(r) for r in rows)
    by = {r["claim"]: r for r in rows}
    assert by["NB201 optimum test accuracy, cifar10"]["ours"] == pytest.approx(94.37, abs=0.01)
    assert by["profiling cost O(m*n): m*n = 30 blocks on NB201"]["ours"] == 26
