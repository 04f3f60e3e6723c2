"""`solvers` sub-command and the benchmark module (small, fast instances only)."""
from __future__ import annotations

import argparse
import csv
import json

import pytest

from harness.errors import HarnessError
from solvers import ChoiceProblem
from solvers.benchmark import FAMILIES, family_problems, register_family, run_benchmark, summarise
from solvers.commands import main, register

KEYS = {"backend", "family", "instances", "optimal", "agree", "median_seconds", "max_seconds", "unavailable"}


def test_families_are_deterministic_and_sized():
    small = family_problems("small", seed=0)
    assert len(small) == 24 and all(p.size <= 2_000_000 for p in small)
    again = family_problems("small", seed=0)
    assert [p.name for p in small] == [p.name for p in again]
    assert all(p.constraints[0].rhs == q.constraints[0].rhs for p, q in zip(small, again) if p.constraints)
    shape = family_problems("nb201-shape", seed=1)
    assert all(p.num_choices == (5,) * 6 and p.is_ratio and 1 <= len(p.constraints) <= 2 for p in shape)
    scale = family_problems("scale", seed=0)
    assert max(p.num_nodes for p in scale) == 200 and max(max(p.num_choices) for p in scale) == 50
    assert all(len(p.constraints) == 2 for p in scale)


def test_json_output(capsys):
    rc = main(["solvers", "--instances", "small,nb201-shape", "--backends", "enumerate,highs,gurobi",
               "--json", "--quiet", "--time-limit", "20"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 6 and all(KEYS <= set(r) for r in rows)
    for r in rows:
        assert r["unavailable"] == 0 or r["backend"] == "gurobi"
        assert r["agree"] == r["instances"] - r["unavailable"]
        assert r["median_seconds"] <= r["max_seconds"]


def test_out_dir_writes_csv_and_plots(tmp_path, capsys):
    rc = main(["solvers", "--instances", "nb201-shape", "--backends", "enumerate,bnb", "--quiet",
               "--out", str(tmp_path / "o")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "bnb" in out and "nb201-shape" in out
    rows = list(csv.DictReader(open(tmp_path / "o" / "solver_runs.csv")))
    assert len(rows) == 40 and {r["backend"] for r in rows} == {"enumerate", "bnb"}
    assert all(r["agree"] == "True" for r in rows)
    for ext in ("png", "svg"):
        assert (tmp_path / "o" / f"solver_scaling.{ext}").stat().st_size > 1000


@pytest.mark.parametrize("argv, msg", [
    (["--instances", "huge"], "unknown instance family 'huge'"),
    (["--backends", "cplex"], "unknown solver 'cplex'"),
    (["--time-limit", "0"], "--time-limit must be > 0"),
])
def test_bad_input_is_one_line(argv, msg, capsys):
    assert main(["solvers", *argv, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and "\n" not in err


def test_register_into_foreign_parser_and_pluggable_family():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["solvers", "--instances", "tiny-test", "--backends", "enumerate,cpsat", "--quiet"])
    register_family("tiny-test", lambda seed: [ChoiceProblem(num=([1.0, 3.0], [2.0, 0.0]), name="t")])
    try:
        records = run_benchmark(["tiny-test"], ["enumerate", "cpsat"], progress=False)
        assert [r.objective for r in records] == [5.0, 5.0] and all(r.agree for r in records)
        assert summarise(records)[1]["optimal"] == 1
        assert args.func(args) == 0
    finally:
        FAMILIES.pop("tiny-test")
    with pytest.raises(HarnessError, match="unknown instance family"):
        run_benchmark(["tiny-test"], ["enumerate"])
