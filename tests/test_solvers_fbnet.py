"""The ILP family `fbnet`: 22 x 9 with the exact lookup-table latency of four real devices as constraints.

9^22 codes cannot be enumerated: the reference is the best proven optimum, every exact backend must prove
the same value, the optimum must be truly feasible (its LUT latency) and at least as big as the best of the
5,000 published samples meeting the limit (pandas on the CSV)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analyses.solver_bench import family_problems, run_benchmark
from core.sources import Sources
from devices.help_tables import LUT_DEVICES, lookup_tables
from harness.cli import main
from solvers import solve
from spaces import fbnet, load_space

BACKENDS = ("highs", "cpsat", "gurobi", "cbc", "scip", "bnb")
QUICK = ("fbnet/fpga/q0.5", "fbnet/fpga/q0.9", "fbnet/all-four/q0.5")   # bnb proves these in seconds


@pytest.fixture(scope="module")
def problems():
    return {p.name: p for p in family_problems("fbnet", seed=0)}


def test_instances_are_the_real_lookup_tables_at_sample_quantiles(problems):
    assert len(problems) == 13 and all(p.num_choices == (9,) * 22 and not p.is_ratio for p in problems.values())
    space, measured, luts = load_space("fbnet"), fbnet.load_tables().latency, lookup_tables()
    codes = space.enumerate()
    for device in LUT_DEVICES:
        p = problems[f"fbnet/{device}/q0.5"]
        (c,) = p.constraints
        assert c.rhs == pytest.approx(float(np.quantile(measured[device], 0.5)))
        np.testing.assert_allclose(p.resources(codes)[c.name], measured[device], rtol=0, atol=2e-7)
        np.testing.assert_array_equal(p.objective(codes), sum(b[codes[:, i]] for i, b in enumerate(space.size_proxy())))
    assert len(problems["fbnet/all-four/q0.5"].constraints) == 4
    assert [p.name for p in family_problems("fbnet", seed=7)] == list(problems)   # the seed changes nothing
    assert luts["fpga"].table.shape == (22, 9)


@pytest.mark.parametrize("name", QUICK)
def test_backends_agree_on_the_proven_optimum(problems, name):
    p = problems[name]
    sols = {b: solve(p, b, time_limit=300) for b in BACKENDS}
    if sols["gurobi"].status == "unavailable":     # a size-limited licence says so, with Gurobi's reason
        assert sols["gurobi"].reason
        del sols["gurobi"]
    assert {b: s.status for b, s in sols.items()} == {b: "optimal" for b in sols}
    best = max(s.objective for s in sols.values())
    for b, s in sols.items():
        assert s.objective == pytest.approx(best, abs=1e-6), b
        assert p.feasible(s.code)[0] and float(p.objective(s.code)[0]) == pytest.approx(best, abs=1e-6)
    # independent: the best of the 5,000 samples meeting every limit, by pandas on the CSV, is no bigger
    frame = pd.read_csv(Sources().folder("fbnet") / fbnet.FILE, dtype={"arch": str})
    size = frame["ops"].str.findall(r"k(\d)_e(\d)").map(lambda ops: sum(int(e) * int(k) ** 2 for k, e in ops))
    ok = np.ones(len(frame), dtype=bool)
    for c in p.constraints:
        ok &= frame[f"{c.name.split(':')[1]}_ms"].to_numpy() <= c.rhs
    assert size[ok].max() <= best
    code = sols["highs"].code
    for c in p.constraints:   # truly feasible: the device's own lookup table, not the ILP's copy
        assert lookup_tables()[c.name.split(":")[1]](code)[0] <= c.rhs + 1e-9


def test_run_benchmark_reports_best_proven_reference(problems):
    records = run_benchmark(["fbnet"], ["enumerate", "highs", "scip"], time_limit=120, progress=False)
    assert len(records) == 13 * 3
    for r in records:
        assert r.reference_kind == "best-proven" and r.m == 22 and r.choices == 198
        if r.backend == "enumerate":
            assert r.status == "unavailable" and "exceed the enumeration limit" in r.reason
        else:
            assert r.status == "optimal" and r.agree


def test_cli_reports_median_time(capsys):
    assert main(["solvers", "--instances", "fbnet", "--backends", "highs,cpsat", "--json", "--quiet",
                 "--time-limit", "120"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["backend"] for r in rows} == {"highs", "cpsat"}
    for r in rows:
        assert r["family"] == "fbnet" and r["instances"] == r["agree"] == 13 and r["median_seconds"] > 0
