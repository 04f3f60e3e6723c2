"""Anytime tables, statistics, the protocol card and the regression gate, on a hand-made result store.

Every number below is worked out by hand from the trajectories written here (optimum 95, worst feasible 15)."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from harness.cli import main
from harness.store import ResultStore
from reports import anytime
from reports.build import build_report
from reports.protocol import card, to_markdown
from reports.regress import regress

OPT, FLOOR = 95.0, 15.0


def traj(points: list[tuple[int, float | None, bool]], n: int) -> str:
    """n entries; the incumbent changes at each (evaluation, accuracy, feasible) of `points`."""
    out, cur = [], (None, None)
    marks = dict((k, (a, f)) for k, a, f in points)
    for k in range(1, n + 1):
        cur = marks.get(k, cur)
        out.append({"evaluations": k, "hw_queries": k, "arch_index": None if cur[0] is None else k,
                    "true_accuracy": cur[0], "feasible": cur[1]})
    return json.dumps(out)


def row(label, seed, budget, n, points, device="fpga", regime="free", method=None, deviations=None):
    key = f"{label}-{seed}-{budget}-{device}-{regime}"
    final = points[-1] if points else (None, None, None)
    r = {"key": key, "cell": key, "task": "search", "status": "ok", "space": "nb201", "dataset": "cifar10", "device": device,
         "limit_label": "latency<=q0.5", "label": label, "method": method or label, "seed": seed, "budget": budget,
         "queries": n, "hw_queries": n, "optimum_accuracy": OPT, "floor_accuracy": FLOOR, "trajectory": traj(points, n),
         "true_accuracy": final[1], "feasible": final[2], "regret": None if final[1] is None else OPT - final[1],
         "arch_index": n if points else None, "search_seconds": 0.01, "seconds": 0.02, "regime": regime,
         "search_split": "test", "score_split": "test"}
    if regime != "free":
        r["hw_budget"] = None
    if deviations:
        r["deviations"] = json.dumps(deviations)
    return r


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("anytime") / "store"
    s = ResultStore(root, create=True)
    for device in ("fpga", "pixel3"):
        for seed, shift in ((0, 0.0), (1, 1.0)):
            # "steady": runs at 10 and 26, improving; the @10 run stands for 10, the @26 run for 26
            s.write(row("steady", seed, 10, 10, [(1, 80 - shift, True), (6, 85 - shift, True)], device))
            s.write(row("steady", seed, 26, 26, [(1, 80 - shift, True), (6, 85 - shift, True),
                                                  (20, 90 - shift, True)], device))
            # "early": planned for 26, stopped at 5 evaluations (out of hardware): keeps its answer at 10 and 26
            s.write(row("early", seed, 26, 5, [(5, 88.0, seed == 0)], device))
            # "oneshot": runs at its own cost (25 evaluations), answer at the end, infeasible on pixel3
            s.write(row("oneshot", seed, None, 25, [(25, 91.0, device == "fpga")], device, method="mathnas",
                        deviations=["repair: 5 re-solves (published: none)"]))
    s.record_protocol({"suite": "hand", "suite_sha256": "a" * 64, "methods": [
        {"label": "steady", "name": "random", "params": {}, "budgets": [10, 26], "seeds": [0, 1], "tasks": ["search"],
         "deviations": []},
        {"label": "oneshot", "name": "mathnas", "params": {"repair": 5}, "budgets": [None], "seeds": [0, 1],
         "tasks": ["search"], "deviations": ["repair: 5 re-solves (published: none)"]}],
        "hardware": {"regimes": ["free"], "cost": 0.1, "budget": None}, "spaces": {}, "versions": {"numpy": "x"},
        "cpu": {"model": "test cpu", "count": 2}})
    return root


def test_regret_at_equal_budgets_by_hand(store):
    frame = ResultStore(store).read()
    v = anytime.at_budgets(frame, (10, 26, 50))
    steady = v[(v["label"] == "steady") & (v["seed"] == 1) & (v["device"] == "fpga")].set_index("budget")
    assert steady.loc[10, "regret"] == pytest.approx(OPT - 84) and steady.loc[26, "regret"] == pytest.approx(OPT - 89)
    assert 50 not in steady.index                                   # never run to 50: blank
    early = v[(v["label"] == "early") & (v["device"] == "fpga")].set_index(["seed", "budget"])
    assert early.loc[(0, 26), "regret"] == pytest.approx(7.0)       # stopped at 5, keeps its final answer
    assert not early.loc[(1, 10), "feasible"] and early.loc[(1, 10), "penalised"] == pytest.approx(OPT - FLOOR)
    oneshot = v[v["label"] == "oneshot"]
    assert set(oneshot["budget"]) == {26, 50} and oneshot["own"].all()   # not finished by 10: blank there
    [board] = anytime.equal_budget_boards(frame)
    assert board.columns == ["@10", "@26", "own cost"]
    assert board.cells[("steady", "@10")]["mean"] == pytest.approx(OPT - 84.5)   # seeds 85 and 84
    assert board.cells[("steady", "@26")]["mean"] == pytest.approx(OPT - 89.5)
    assert board.annot[("early", "@26")] == " (50%)" and board.cells[("early", "@26")]["mean"] == pytest.approx(7.0)
    assert ("oneshot ‡", "@10") not in board.cells and board.text("oneshot ‡", "@10") == ""
    assert board.cells[("oneshot ‡", "@26")]["mean"] == pytest.approx(4.0) and board.annot[("oneshot ‡", "@26")] == " (50%)"
    assert board.annot[("oneshot ‡", "own cost")] == " (50%, 25 evals)"
    assert "| oneshot ‡ |  |" in board.markdown() and "[hardware: free]" in board.title


def test_area_under_the_curve_by_hand(store):
    r = anytime.runs(ResultStore(store).read())
    c = anytime.curves(r, 26)
    one = c[(c["label"] == "early") & (c["seed"] == 0) & (c["device"] == "fpga")]["curve"].iloc[0]
    assert list(one[:4]) == [OPT - FLOOR] * 4 and list(one[4:]) == [7.0] * 22   # no answer before evaluation 5
    [board] = anytime.aurc_board(r)
    early = (4 * (OPT - FLOOR) + 22 * 7.0) / 26                    # seed 0 feasible; seed 1 never feasible
    expected = ((early + early) / 2 + (OPT - FLOOR)) / 2
    assert board.cells[("early", "AURC @26")]["mean"] == pytest.approx(expected)


def test_statistics_get_complete_blocks_only(store):
    values = anytime.at_budgets(ResultStore(store).read(), (10, 26))
    tasks = anytime.task_values(values)
    frame10, dropped10 = tasks[("free", 10)]
    assert sorted(frame10["method"].unique()) == ["early", "steady"] and dropped10 == []
    frame26, _ = tasks[("free", 26)]
    assert sorted(frame26["method"].unique()) == ["early", "oneshot", "steady"]
    pixel = frame26[(frame26["task"].str.contains("pixel3")) & (frame26["method"] == "oneshot")]["value"]
    assert pixel.iloc[0] == pytest.approx(OPT - FLOOR)             # infeasible on pixel3: penalised


def test_report_has_stats_cd_diagram_card_and_headline(store, tmp_path):
    rep = build_report(store, tmp_path / "rep")
    names = {p.relative_to(tmp_path / "rep").as_posix() for p in rep.files}
    for f in ("tables/headline.md", "tables/anytime-regret.md", "tables/anytime-aurc.tex", "tables/stats-free-b26.md",
              "tables/stats-free-b26.tex", "figures/cd-free-b26.png", "figures/anytime-regret-free.png",
              "protocol.md"):
        assert f in names, f
    md = rep.markdown.read_text()
    assert "Protocol card" in md and "Friedman" in md and "Lindauer & Hutter" in md
    assert "repair: 5 re-solves (published: none)" in md      # every method's deviations on the card
    assert "test only: search and score on test" in md and "test cpu" in md
    assert rep.headline.startswith("**Search regret at equal budgets per hardware regime")
    page = rep.html.read_text()
    assert "Protocol card" in page and "Statistics across tasks" in page


def test_protocol_card_lists_every_methods_deviations(store):
    frame = ResultStore(store).read()
    sections = dict(card(frame, ResultStore(store).protocols()))
    methods = sections["Methods, settings and deviations from the published ones (†)"][0][1]
    by_label = {m["label"]: m for m in methods}
    assert by_label["oneshot"]["deviations from published"] == "repair: 5 re-solves (published: none)"
    assert by_label["steady"]["deviations from published"] == "none"
    text = to_markdown(card(frame, []))                        # no recorded protocol: still from the rows
    assert "repair: 5 re-solves (published: none)" in text and "no protocol recorded" in text


def test_regress_covers_equal_budgets_and_ranks(store, tmp_path):
    base = tmp_path / "base.json"
    assert regress(store, base, update=True).ok
    doc = json.loads(base.read_text())
    assert doc["suite"] == "hand" and doc["suite_sha256"] == "a" * 64
    assert doc["metrics"]["anytime/free/steady/@26/cifar10/regret"]["value"] == pytest.approx(OPT - 89.5)
    assert "rank/free/@26/oneshot" in doc["metrics"] and doc["metrics"]["rank/free/@26/steady"]["kind"] == "rank"
    assert regress(store, base).ok
    worse = dict(doc)
    worse["metrics"] = {**doc["metrics"], "rank/free/@26/steady": {"value": 0.5, "kind": "rank"}}
    base.write_text(json.dumps(worse))
    out = regress(store, base)
    assert not out.ok and any("rank/free/@26/steady: rank 0.5" in line for line in out.lines)


def test_regress_refuses_nan_baselines(store, tmp_path, capsys):
    doc = json.loads((regress(store, tmp_path / "b.json", update=True) and (tmp_path / "b.json")).read_text())
    doc["metrics"]["anytime/free/steady/@26/cifar10/regret"]["value"] = float("nan")
    (tmp_path / "nan.json").write_text(json.dumps(doc))          # json writes NaN, and reads it back
    assert main(["regress", str(store), "--baseline", str(tmp_path / "nan.json")]) == 2
    err = capsys.readouterr().err
    assert "not finite" in err and err.count("\n") == 1
    doc["metrics"]["anytime/free/steady/@26/cifar10/regret"]["value"] = 1.0
    doc["tolerances"] = {"regret": {"direction": "lower", "tol": float("nan")}}
    (tmp_path / "nan.json").write_text(json.dumps(doc))
    assert main(["regress", str(store), "--baseline", str(tmp_path / "nan.json")]) == 2
    assert "every tolerance must be a finite number" in capsys.readouterr().err


def test_regress_says_the_suites_differ_in_one_line(store, tmp_path, capsys):
    regress(store, tmp_path / "b.json", update=True)
    doc = json.loads((tmp_path / "b.json").read_text())
    doc["suite_sha256"] = "b" * 64
    (tmp_path / "other.json").write_text(json.dumps(doc))
    assert main(["regress", str(store), "--baseline", str(tmp_path / "other.json")]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "the suites differ" in out
    # a baseline without a suite fingerprint that shares few metrics with the run: another suite too
    doc.pop("suite_sha256")
    doc["metrics"] = {f"search/x{i}/cifar10/fpga/regret": {"value": 1.0, "kind": "regret"} for i in range(50)}
    (tmp_path / "old.json").write_text(json.dumps(doc))
    out = regress(store, tmp_path / "old.json")
    assert not out.ok and len(out.lines) == 1 and "only 0 of the baseline's 50 metrics" in out.lines[0]


def test_frames_without_trajectories_give_no_anytime_tables():
    frame = pd.DataFrame([{"key": "k", "task": "search", "status": "ok", "label": "x", "dataset": "d", "device": "e",
                           "seed": 0, "queries": 3, "optimum_accuracy": 1.0}])
    assert anytime.runs(frame).empty and anytime.equal_budget_boards(frame) == []
    assert anytime.headline_board(frame) is None and math.isnan(float("nan"))


def test_a_method_on_fewer_tasks_gets_a_like_for_like_board(store):
    frame = ResultStore(store).read()
    extra = pd.DataFrame([row("narrow", seed, 26, 26, [(3, 93.0, True)], "pixel3") for seed in (0, 1)])
    boards = {b.name: b for b in anytime.equal_budget_boards(pd.concat([frame, extra], ignore_index=True))}
    assert boards["anytime-regret"].extra["tasks"]["narrow"] == "1" and boards["anytime-regret"].extra["tasks"]["steady"] == "2"
    common = boards["anytime-regret-common"]
    assert "1 task(s) every method ran (of 2)" in common.title
    assert common.cells[("steady", "@26")]["mean"] == pytest.approx(OPT - 89.5)   # pixel3 only: same values by design
    assert common.cells[("narrow", "@26")]["mean"] == pytest.approx(2.0)
    assert common.annot[("oneshot ‡", "@26")] == " (0%)"                         # infeasible on pixel3
