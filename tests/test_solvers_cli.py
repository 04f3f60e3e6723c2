"""`solvers` sub-command and the benchmark module (small, fast instances only)."""
from __future__ import annotations


import csv
import json

import pytest

from core.errors import HarnessError
from solvers import ChoiceProblem
from analyses.solver_bench import family_problems, run_benchmark, summarise
from harness.cli import main

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


