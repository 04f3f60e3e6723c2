"""TransNAS-Bench-101 micro (spaces/transnas101.py) against ../shared/transnas101: the README's facts, both arch
string forms, seven tasks with their metric/unit/direction/split, the lower-is-better room_layout shown raw,
exact optima checked with pandas, the cell graph (NAS-Bench-201's encoding), and every method through the CLI
on a space without FLOPs."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_devices import assert_one_line_error, run_cli
from test_space_macro import corrupt_copy

from baselines import gcn
from core.errors import HarnessError
from core.oracle import Oracle
from core.sources import Sources
from evaluation.groundtruth import ground_truth
from mathnas.method import MathNAS
from spaces import load_space
from spaces import transnas101 as tnb

DATA = Sources().folder("transnas101")
CSV = DATA / tnb.FILE
RANGES = {"class_scene": (7.48, 54.94), "class_object": (21.20, 45.59), "jigsaw": (0.03, 95.37),
          "room_layout": (-1.094, -0.601), "segmentsemantic": (91.64, 94.61), "autoencoder": (0.0012, 0.577),
          "normal": (0.206, 0.587)}


@pytest.fixture(scope="module")
def space():
    return load_space("transnas101")


@pytest.fixture(scope="module")
def frame():
    return pd.read_csv(CSV, dtype={"arch": str, "tnb_arch_str": str})


def test_rows_tasks_and_published_ranges(space, frame):
    assert space.size == len(frame) == 4096 and space.num_choices == (4,) * 6
    assert set(space.tasks) == set(RANGES)
    for task, (lo, hi) in RANGES.items():
        v = space.accuracy(task, "valid")
        assert v.shape == (4096,) and np.all(np.isfinite(v))
        digits = 3 if abs(hi) < 2 else 2
        assert round(float(v.min()), digits + 1) == pytest.approx(lo, abs=10 ** -digits)
        assert round(float(v.max()), digits + 1) == pytest.approx(hi, abs=10 ** -digits)
        t = space.tasks[task]
        assert (t.search_split, t.score_split) == ("valid", "valid") and "no test split" in t.note
    lower = [t for t in space.tasks.values() if t.direction == "lower"]
    assert [t.name for t in lower] == ["room_layout"] and lower[0].unit == "" and "L2 loss" in lower[0].metric
    assert space.tasks["class_scene"].unit == "%" and space.tasks["normal"].unit == ""
    with pytest.raises(HarnessError, match="no 'test' split"):
        space.accuracy("class_scene", "test")
    assert space.block_costs("class_scene") is None


def test_spot_checks_and_raw_metrics(space, frame):
    acc = lambda task, arch: space.accuracy(task)[space.index(space.encode(arch))[0]]  # noqa: E731
    assert acc("class_scene", "102031") == pytest.approx(52.647293, abs=1e-6)
    assert acc("normal", "313331") == pytest.approx(0.564470, abs=1e-6)
    assert acc("room_layout", "100110") == pytest.approx(-0.890844, abs=1e-6)        # oriented: higher is better
    assert space.tasks["room_layout"].raw(acc("room_layout", "100110")) == pytest.approx(0.890844, abs=1e-6)
    by_arch = frame.set_index("arch")
    for task, (col, *_) in tnb.COLUMNS.items():
        np.testing.assert_array_equal(space.accuracy(task), by_arch.loc[[space.decode(c) for c in space.enumerate()],
                                                                        col].to_numpy())


def test_arch_strings_both_ways(space, frame):
    for arch, tnb_str in zip(frame["arch"], frame["tnb_arch_str"]):
        code = space.encode(tnb_str)
        np.testing.assert_array_equal(code, space.encode(arch))
        assert space.decode(code) == arch and tnb.tnb_arch(code) == tnb_str
    np.testing.assert_array_equal(space.index(space.enumerate()), np.arange(4096))
    assert space.index(space.encode("102031"))[0] == int("102031", 4)


@pytest.mark.parametrize("bad, needle", [
    ("1020311", "expected 6 digits"), ("10203x", "edge 6 is 'x'"), ("102041", "edge 5 is '4'"),
    ("64-41414-1_02_03x", "edge 6 is 'x'"), ("64-11111-1_02_031", "macro skeleton '64-11111'"),
    ("64-41414-102031", "expected '64-41414-e_ee_eee'"), ("64-41414-basic", "expected"),
])
def test_bad_arch_strings_name_the_bad_part(space, bad, needle):
    with pytest.raises(HarnessError, match=needle) as e:
        space.encode(bad)
    assert "\n" not in str(e.value)


def test_graph_is_nb201s_cell_graph(space):
    codes = space.enumerate()
    to_nb201 = np.array([0, 1, 2, 3])   # zero->none, skip->skip_connect, conv1x1->nor_conv_1x1, conv3x3->nor_conv_3x3
    for prune in (False, True):
        adj, types = space.graph(codes, prune)
        assert adj.shape == (4096, 8, 8) and types.shape == (4096, 8) and adj.dtype == bool
        assert not np.any(adj[:, np.arange(8), np.arange(8)])
        ref_adj, ref_types = gcn.cell_graphs(to_nb201[codes], prune)
        np.testing.assert_array_equal(adj, ref_adj)
        # NB201 types: ops 0..4, input 5, output 6; TransNAS: ops 0..3, input 4, output 5
        ref_types = np.where(ref_types >= 5, ref_types - 1, ref_types)
        np.testing.assert_array_equal(types, ref_types)
        assert types.max() == space.num_node_types - 1
    adj, types = space.graph(space.encode("000000"), prune=True)
    assert not adj.any() and list(types[0]) == [4, -1, -1, -1, -1, -1, -1, 5]   # nothing reaches the output
    adj, types = space.graph(space.encode("333333"), prune=False)
    assert adj[0, 0, 1] and adj[0, 1, 3] and adj[0, 6, 7] and not adj[0, 1, 7]


# --- exact optima against pandas (no costs: no limits on this space) ----------------------------------------------
@pytest.mark.parametrize("task", list(RANGES))
def test_optimum_of_every_task_matches_pandas(capsys, frame, task):
    col, _, _, direction, _ = tnb.COLUMNS[task]
    rc, out, _ = run_cli(capsys, "optimum", "--space", "transnas101", "--dataset", task, "--device", "none", "--json")
    assert rc == 0
    got = json.loads(out)
    ordered = frame.sort_values("arch_index")
    best = ordered.loc[ordered[col].idxmax()]        # the table's column is oriented already (negative loss)
    assert got["arch"] == best["arch"] and got["arch_index"] == best["arch_index"]
    assert got["accuracy"] == pytest.approx(best[col]) and got["feasible_count"] == 4096
    assert got["direction"] == direction
    if direction == "lower":
        loss = -ordered[col]
        assert got["optimum_metric"] == pytest.approx(loss.min()) and got["arch"] == ordered.loc[loss.idxmin(), "arch"]
    else:
        assert got["optimum_metric"] == got["accuracy"]


def test_lower_is_better_task_is_shown_raw(capsys):
    rc, out, _ = run_cli(capsys, "optimum", "--space", "transnas101", "--dataset", "room_layout")
    assert rc == 0 and "valid L2 loss 0.600999 (lower is better)" in out and "-0.6" not in out
    rc, out, _ = run_cli(capsys, "arch", "64-41414-1_00_110", "--space", "transnas101", "--dataset", "room_layout",
                         "--json")
    rep = json.loads(out)
    assert rc == 0 and rep["true_metric"] == pytest.approx(0.890844) and rep["true_accuracy"] == pytest.approx(-0.890844)
    assert rep["arch"] == "100110" and rep["direction"] == "lower" and rep["metric"] == "valid L2 loss"
    rc, out, _ = run_cli(capsys, "search", "--space", "transnas101", "--dataset", "room_layout", "--method", "random",
                         "--budget", "20")
    assert rc == 0 and "true valid L2 loss 0." in out and "optimum 0.600999 (lower is better)" in out


# --- methods through the CLI, without FLOPs -------------------------------------------------------------------
def test_mathnas_needs_the_plain_sum_here(capsys):
    rc, out, _ = run_cli(capsys, "predict", "--space", "transnas101", "--dataset", "class_scene", "--method", "mathnas",
                         "--json")
    rep = json.loads(out)   # without FLOPs Eq. 5 falls back to the plain block sum, and says so
    assert rc == 0 and any("flops_scaling: off" in d for d in rep["deviations"])
    rc, _, err = run_cli(capsys, "search", "--space", "transnas101", "--dataset", "jigsaw", "--method", "mathnas",
                         "--max-flops", "1e9", "--param", "flops_scaling=false")
    assert_one_line_error(rc, err, "space 'transnas101' has no flops")
    rc, _, err = run_cli(capsys, "optimum", "--space", "transnas101", "--dataset", "jigsaw", "--device", "flops")
    assert_one_line_error(rc, err, "no analytic flops count")


@pytest.mark.parametrize("method, extra", [("mathnas", ["--variant", "single", "--param", "flops_scaling=false"]),
                                           ("mathnas", ["--variant", "full", "--param", "flops_scaling=false"]),
                                           ("lana", [])])
@pytest.mark.parametrize("task", ["class_object", "room_layout"])
def test_predict_runs(capsys, method, extra, task):
    rc, out, _ = run_cli(capsys, "predict", "--space", "transnas101", "--dataset", task, "--method", method, *extra,
                         "--json")
    assert rc == 0
    rep = json.loads(out)
    assert rep["accuracy"]["n"] == 4096 and np.isfinite(rep["accuracy"]["kendall_tau"])
    assert rep["queries"] == (4096 if "full" in extra else 1 + 6 * 3 + (method == "mathnas"))


@pytest.mark.parametrize("method, extra", [("mathnas", ["--param", "flops_scaling=false"]),
                                           ("mathnas", ["--variant", "full", "--param", "flops_scaling=false"]),
                                           ("lana", []),
                                           ("random", ["--budget", "30"]),
                                           ("evolution", ["--budget", "30", "--param", "population=8"])])
def test_search_runs(capsys, frame, method, extra):
    rc, out, _ = run_cli(capsys, "search", "--space", "transnas101", "--dataset", "autoencoder", "--method", method,
                         *extra, "--json")
    assert rc == 0
    rep = json.loads(out)
    assert rep["feasible"] is True and rep["regret"] >= 0 and rep["device_live"] is False
    assert rep["optimum_metric"] == frame["autoencoder_valid_ssim"].max()


def test_lana_teacher_without_flops_is_conv3x3_everywhere():
    from baselines.lana import LANA

    gt = ground_truth("normal", "none", space="transnas101")
    m = LANA().fit(Oracle(gt))
    assert list(m.predictors["accuracy"].teacher) == [3] * 6 and set(m.predictors) == {"accuracy"}


def test_mathnas_plain_sum_uses_the_choice_order():
    gt = ground_truth("class_scene", "none", space="transnas101")
    m = MathNAS(variant="single", flops_scaling=False).fit(Oracle(gt))
    assert m.tables.base == (3,) * 6 and m.tables.context == (1,) * 6 and m.tables.costs is None
    m = MathNAS(variant="single", flops_scaling=False, base="conv1x1").fit(Oracle(gt))
    assert m.tables.base == (2,) * 6


# --- bad data files are one line ----------------------------------------------------------------------------------
@pytest.mark.parametrize("edit, needle", [
    (lambda t: t[:-1], "expected 4096 rows"),
    (lambda t: [t[0].replace("normal_valid_ssim", "normal")] + t[1:], "missing column 'normal_valid_ssim'"),
    (lambda t: t[:2] + [t[1]] + t[3:], "duplicated arch 000000"),
    (lambda t: t[:1] + [t[1].replace("64-41414-0_00_000", "64-41414-0_00_001")] + t[2:], "tnb_arch_str"),
    (lambda t: t[:1] + [t[1].replace(",-1.094284,", ",1.094284,")] + t[2:], "room_layout_valid_neg_l2loss"),
    (lambda t: t[:1] + [t[1].replace(",7.484076,", ",,")] + t[2:], "class_scene_valid_top1_pct"),
    (lambda t: t[:1] + [t[1].replace("0,000000,", "0,00000x,", 1)] + t[2:], "edge 6 is 'x'"),
])
def test_corrupt_files_are_one_line_errors(tmp_path, edit, needle):
    with pytest.raises(HarnessError, match=needle) as e:
        tnb.load_space(corrupt_copy(tmp_path, "transnas101", tnb.FILE, edit))
    assert "\n" not in str(e.value) and tnb.FILE in str(e.value)


def test_device_none_is_listed_and_is_the_default_off_nb201(capsys, tmp_path):
    rc, out, _ = run_cli(capsys, "devices", "--json")
    row = {r["name"]: r for r in json.loads(out)}["none"]
    assert rc == 0 and row["kind"] == "none" and row["metrics"] == [] and row["spaces"] == {"*": "all"}
    gt = ground_truth("jigsaw", "none", space="transnas101")
    assert gt.latency is None and gt.energy is None and gt.flops is None
    (tmp_path / "none.csv").write_text("arch_index,latency_ms\n0,1.0\n")
    rc, _, err = run_cli(capsys, "optimum", "--device-file", str(tmp_path / "none.csv"), "--dataset", "cifar10",
                         "--device", "none")
    assert_one_line_error(rc, err, "built-in profile of no hardware")
