"""Reports and the regression gate, from a real (small) result store."""
from __future__ import annotations

import json
import re

import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_runner_methods import TINY, write_suite

from harness.cli import main
from harness.run import run
from core.files import atomic_write_bytes
from harness.store import ResultStore
from reports.build import build_report
from reports.regress import regress, run_metrics

SUITE = TINY + """
[[methods]]
name = "mathnas"
variant = "single"
solver = "highs"

[solvers]
backends = ["enumerate", "highs"]
families = ["small"]
seeds = [0]
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    s = run(write_suite(folder, SUITE), folder / "results", executor="serial", progress=False)
    assert s.failed == 0
    claims = [{"claim": "accuracy prediction Spearman rho", "source": "Fig. 3", "paper": 0.97, "ours": 0.61,
               "delta": -0.36, "verdict": "differs", "how": "test row"}]
    ResultStore(folder / "results").write({"key": "claims-test", "task": "claims", "status": "ok", "seed": 0,
                                           "claims": json.dumps(claims)})
    return folder / "results"


def test_report_files_and_self_contained_html(store, tmp_path):
    rep = build_report(store, tmp_path / "rep")
    names = {p.relative_to(tmp_path / "rep").as_posix() for p in rep.files}
    for f in ("index.html", "report.md", "leaderboards.csv", "leaderboards.tex", "claims.md",
              "tables/search-regret.md", "tables/predict-accuracy-tau.tex", "tables/solvers-agreement.md",
              "figures/scatter-accuracy-cifar10.png", "figures/scatter-accuracy-cifar10.svg",
              "figures/pareto-latency-cifar100.svg", "figures/pareto-energy-cifar10.png",
              "figures/regret-vs-budget.png", "figures/solver-time-vs-size.svg"):
        assert f in names, f
    page = rep.html.read_text()
    assert page.count("data:image/png;base64,") >= 6
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page)  # nothing fetched from a network
    assert "<b>" in page and "accuracy prediction Spearman rho" in page
    tex = (tmp_path / "rep" / "tables" / "search-regret.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"\textbf{" in tex
    md = (tmp_path / "rep" / "tables" / "predict-accuracy-tau.md").read_text()
    assert "| mathnas-single |" in md and "**" in md
    import pandas as pd

    csv = pd.read_csv(tmp_path / "rep" / "leaderboards.csv")
    assert list(csv.columns) == ["board", "row", "column", "mean", "std", "ci_low", "ci_high", "n"]
    regret = csv[(csv["board"] == "search-regret") & (csv["row"] == "mathnas-single")]
    assert len(regret) == 2 and (regret["n"] == 2).all() and (regret["mean"] >= 0).all()


def test_report_cli_prints_place_and_headline(store, tmp_path, capsys):
    assert main(["report", str(store), "--out", str(tmp_path / "r"), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert f"report written to {tmp_path / 'r' / 'index.html'}" in out
    # the headline: regret at equal budgets per hardware regime, every method a row
    assert "**Search regret at equal budgets per hardware regime" in out and "| method | free @10 |" in out
    assert "| additive |" in out and "| mathnas-single ‡ |" in out


def _rewrite_cell(store, task, column, change):
    frame = ResultStore(store).read()
    key = frame[(frame["task"] == task) & frame[column].notna()]["key"].iloc[0]
    path = store / "cells" / f"{key}.parquet"
    table = pq.read_table(path)
    df = table.to_pandas()
    df[column] = change(df[column])
    import pyarrow as pa

    new = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(table.schema.metadata)
    import io

    buf = io.BytesIO()
    pq.write_table(new, buf)
    atomic_write_bytes(path, buf.getvalue())
    return frame[frame["key"] == key].iloc[0]


def test_regress_passes_on_baseline_and_fails_on_worse_tau(store, tmp_path, capsys):
    import shutil

    base = tmp_path / "baseline.json"
    assert regress(store, base, update=True).ok
    doc = json.loads(base.read_text())
    assert any(k.endswith("accuracy_tau") for k in doc["metrics"]) and any(k.endswith("/regret") for k in doc["metrics"])
    assert any(k.startswith("solvers/") and k.endswith("agreement") for k in doc["metrics"])
    assert main(["regress", str(store), "--baseline", str(base)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")

    worse = tmp_path / "worse"
    shutil.copytree(store, worse)
    row = _rewrite_cell(worse, "predict", "accuracy.kendall_tau", lambda c: c - 0.2)
    _rewrite_cell(worse, "search", "search_seconds", lambda c: c + 100.0)
    assert main(["regress", str(worse), "--baseline", str(base)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("REGRESSION: 2 problem(s)")
    assert f"predict/{row['label']}/{row['dataset']}/{row['device']}/accuracy_tau: tau" in out
    assert "dropped 0.1" in out and "time/search/" in out


def test_regress_missing_or_bad_baseline_is_one_line(store, tmp_path, capsys):
    assert main(["regress", str(store), "--baseline", str(tmp_path / "none.json")]) == 2
    assert "no baseline file" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{}")
    assert main(["regress", str(store), "--baseline", str(tmp_path / "bad.json")]) == 2
    assert "not a baseline" in capsys.readouterr().err


def test_runner_records_the_protocol_the_card_needs(store):
    import hashlib

    from harness.protocol import suite_digest
    from harness.suite import parse_suite
    from spaces.nb201_data import resolve_data_dir

    [p] = ResultStore(store).protocols()
    assert p["suite"] == "tiny" and len(p["suite_sha256"]) == 64 and "[[methods]]" in p["suite_text"]
    files = {f["file"]: f["sha256"] for f in p["spaces"]["nb201"]["data"]["files"]}
    acc = resolve_data_dir() / "accuracy.csv"
    assert files["accuracy.csv"] == hashlib.sha256(acc.read_bytes()).hexdigest()
    assert p["spaces"]["nb201"]["tasks"]["cifar10"]["score_split"] == "test"
    assert p["versions"]["numpy"] and p["cpu"]["count"] >= 1
    assert {m["label"] for m in p["methods"]} == {"additive", "mathnas-single"}
    # the suite's fingerprint is its content: comments and key order do not count, any value does
    suite = parse_suite({"name": "x", "datasets": "cifar10", "devices": "fpga", "methods": [{"name": "random"}]})
    a = suite_digest(suite, 'name = "x"\ndatasets = "cifar10"  # a comment\ndevices = "fpga"\n')
    assert a == suite_digest(suite, 'devices = "fpga"\nname = "x"\n\ndatasets = "cifar10"\n')
    assert a != suite_digest(suite, 'name = "x"\ndatasets = "cifar100"\ndevices = "fpga"\n')


TWO_SPACES = """
name = "two-spaces"
spaces = ["nb201", "nasbench_macro"]
datasets = ["cifar10"]
devices = ["fpga", "none"]
seeds = 2
sample_size = 50
[[limits]]
spaces = ["nb201"]
latency_quantiles = [0.5]
[[limits]]
spaces = ["nasbench_macro"]
params_quantiles = [0.5]
[[exclude]]
space = "nb201"
device = "none"
[[methods]]
name = "random"
budget = 20
[[methods]]
name = "mathnas"
variant = "single"
tasks = "predict"
"""


def test_boards_per_space_never_mix_benchmarks(tmp_path):
    """cifar10 of NAS-Bench-Macro is another task than NB201's: its own boards (`@nasbench_macro`), its own
    regression keys, and each board's cell equals the mean over that space's rows alone."""
    s = run(write_suite(tmp_path, TWO_SPACES), tmp_path / "results", executor="serial", progress=False)
    assert s.failed == 0
    rep = build_report(tmp_path / "results", tmp_path / "rep", figures=False)
    tables = {p.stem for p in (tmp_path / "rep" / "tables").glob("*.md")}
    assert {"search-regret", "search-regret@nasbench_macro", "predict-accuracy-tau",
            "predict-accuracy-tau@nasbench_macro"} <= tables
    frame = ResultStore(tmp_path / "results").read()
    long = pd.read_csv(tmp_path / "rep" / "leaderboards.csv")
    for space, board in (("nb201", "search-regret"), ("nasbench_macro", "search-regret@nasbench_macro")):
        rows = frame[(frame["task"] == "search") & (frame["space"] == space) & (frame["status"] == "ok")]
        rows = rows[rows["feasible"].astype(bool)]
        expected = rows.groupby("seed")["regret"].mean().mean()     # mean over seeds of the per-seed mean
        got = long[(long["board"] == board) & (long["row"] == "random")]["mean"]
        assert len(got) == 1 and abs(float(got.iloc[0]) - expected) < 1e-9, (space, got, expected)
    assert "nasbench_macro: " in rep.headline and "nb201: " in rep.headline
    keys = set(run_metrics(frame))
    assert "search/random/nasbench_macro:cifar10/none/regret" in keys and "search/random/cifar10/fpga/regret" in keys
