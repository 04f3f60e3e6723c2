"""OFA MobileNetV3 (../shared/ofa_mbv3): the loader against the README's facts, per-stage depth (Eq. 9 inside
each stage), the row split, hardware-only MathNAS, the exact optimum against pandas, the graph encoding."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from test_space_fbnet import pandas_optimum

from core.codes import depth_valid
from core.errors import HarnessError
from core.oracle import Oracle
from core.sources import Sources
from devices import get_profile
from evaluation.evaluate import predict_report
from evaluation.groundtruth import ground_truth, optimum
from spaces import load_space, ofa_mbv3

CSV = Sources().folder("ofa_mbv3") / ofa_mbv3.FILE


@pytest.fixture(scope="module")
def frame():
    return pd.read_csv(CSV, dtype={"arch": str, "depth_per_stage": str, "ks_raw": str, "e_raw": str})


@pytest.fixture(scope="module")
def space():
    return load_space("ofa_mbv3")


def gt_of(device):
    return ground_truth("imagenet", device, space="ofa_mbv3")


def test_rows_choices_and_devices_are_the_readmes(space, frame):
    tables = ofa_mbv3.load_tables()
    assert space.size == 5000 and space.num_nodes == 21 and space.skip_from is None
    assert space.num_choices == (9, 9, 10, 10) * 5 + (25,)
    assert space.choice_names[20] == tuple(f"r{r}" for r in range(128, 225, 4))
    assert set(tables.latency) == {f"{g}_{b}" for g in ("2080ti", "titan_rtx", "titan_xp", "v100") for b in (1, 32, 64)}
    codes = space.enumerate()
    assert np.unique(codes, axis=0).shape[0] == 5000 and not frame["arch"].duplicated().any()
    depth = (codes[:, :20] != 9).sum(axis=1)
    assert depth.min() == 10 and depth.max() == 20
    assert sorted(np.unique(codes[:, 20])) == list(range(25))
    assert not space.tasks["imagenet"].has_accuracy


def test_spot_values_and_ranges_are_the_readmes():
    lat = ofa_mbv3.load_tables().latency
    assert lat["v100_1"][0] == pytest.approx(7.820444107, rel=1e-8)   # the CSV keeps 9 significant digits
    assert lat["titan_xp_64"][2500] == pytest.approx(68.43060017, rel=1e-8)
    assert lat["2080ti_32"][4999] == pytest.approx(17.60147095, rel=1e-8)
    ranges = {"2080ti_1": (7.41, 27.78), "2080ti_64": (9.43, 57.85), "titan_rtx_1": (3.89, 9.53),
              "titan_rtx_64": (8.82, 54.80), "titan_xp_1": (7.21, 19.27), "titan_xp_64": (15.31, 107.56),
              "v100_1": (6.76, 15.43), "v100_64": (7.84, 42.63)}
    for device, (lo, hi) in ranges.items():
        assert (round(lat[device].min(), 2), round(lat[device].max(), 2)) == (lo, hi), device


def test_arch_strings_both_ways_and_one_line_errors(space, frame):
    for r in (0, 2500, 4999):
        assert space.decode(space.enumerate()[r]) == frame["arch"][r]
        np.testing.assert_array_equal(space.encode(frame["arch"][r]), space.enumerate()[r])
    good = frame["arch"][0]    # r204:k7e6-k5e4-skip-skip-...
    layers = good.split(":")[1].split("-")
    cases = {
        "r200:" + "-".join(["skip"] + layers[1:]): "layer 0 (stage 0) is 'skip'; the first two layers",
        "r204:" + "-".join(layers[:3] + ["k3e3"] + layers[4:]): "stage 0 skips layer 2 but not layer 3",
        "r130:" + good.split(":")[1]: "resolution 130 not in 128",
        "r204:" + "-".join(layers[:19]): "19 layers, expected 20",
        "r204:" + "-".join(["k4e3"] + layers[1:]): "valid: k3e3",
        "k7e6-k5e4": "expected 'r<resolution>:'",
    }
    for bad, words in cases.items():
        with pytest.raises(HarnessError, match=re.escape(words)) as e:
            space.encode(bad)
        assert "\n" not in str(e.value)


def test_depth_is_a_suffix_inside_each_stage(space):
    """The per-stage form of Eq. 9: in each skip group the last choice is skip and skips form a suffix."""
    assert space.skip_groups == ((2, 3), (6, 7), (10, 11), (14, 15), (18, 19))
    for a, b in space.skip_groups:
        assert space.choice_names[a][-1] == space.choice_names[b][-1] == "skip"
    assert all("skip" not in space.choice_names[i] for i in range(20) if i % 4 < 2)
    codes = space.enumerate()
    for a, b in space.skip_groups:
        assert depth_valid(codes[:, [a, b]], (10, 10), 0).all()
    bad = codes[:1].copy()
    bad[0, 6], bad[0, 7] = 9, 0
    with pytest.raises(HarnessError, match="not an architecture of the space") as e:
        space.lookup(bad)
    assert "\n" not in str(e.value)


def test_sample_draws_valid_sub_networks_seeded(space):
    a = space.sample(3000, 5)
    np.testing.assert_array_equal(a, space.sample(3000, 5))
    assert space.check_codes(a).shape == (3000, 21) and (space.lookup(a) == -1).mean() > 0.99
    depth = (a[:, :20] != 9).reshape(3000, 5, 4).sum(axis=2)
    assert set(np.unique(depth)) == {2, 3, 4} and abs(depth.mean() - 3) < 0.05     # uniform per stage


@pytest.mark.parametrize("column, message", [("depth_per_stage", "column 'depth_per_stage' disagrees"),
                                             ("ks_raw", "column 'ks_raw' disagrees"),
                                             ("resolution", "column 'resolution' disagrees")])
def test_a_corrupt_table_is_one_line(tmp_path, frame, column, message):
    f = frame.copy()
    f.loc[11, column] = {"depth_per_stage": "44444", "ks_raw": "3" * 20, "resolution": 1}[column]
    if column == "ks_raw":
        f.loc[11, column] = "".join("5" if ch == "3" else "3" for ch in frame.loc[11, column])
    (tmp_path / "ofa_mbv3").mkdir()
    f.to_csv(tmp_path / "ofa_mbv3" / ofa_mbv3.FILE, index=False)
    with pytest.raises(HarnessError, match=f"row 11: {re.escape(message)}") as e:
        ofa_mbv3.load_tables(Sources(root=str(tmp_path)))
    assert "\n" not in str(e.value)


def test_devices_are_the_gpu_columns_and_merge_with_other_spaces(space):
    p = get_profile("2080ti_1")
    assert p.covers("ofa_mbv3", "imagenet") and p.covers("fbnet") and p.covers("nb201")
    assert not p.answers_any_code("ofa_mbv3")
    np.testing.assert_array_equal(p.values(space, "imagenet", None)["latency"],
                                  ofa_mbv3.load_tables().latency["2080ti_1"])
    assert get_profile("v100_64").coverage == {"ofa_mbv3": ("imagenet",)}


def test_oracle_refuses_the_score_split_and_codes_without_a_row(space):
    oracle = Oracle(gt_of("v100_1"))
    oracle.hardware("latency", space.enumerate()[:4000])
    with pytest.raises(HarnessError, match="row 4999 belongs to the score split 'test'"):
        oracle.hardware("latency", space.enumerate()[4999:])
    with pytest.raises(HarnessError, match="device 'v100_1' knows only the table's 5,000 sampled architectures"):
        oracle.hardware("latency", space.sample(1, 1))
    assert oracle.hw_queries == 4000


def test_mathnas_predicts_latency_from_the_train_rows_and_single_lana_are_refused():
    rep = predict_report("mathnas", "imagenet", "titan_rtx_64", space="ofa_mbv3", variant="full")
    assert rep["accuracy"] is None and rep["latency"]["n"] == 1000 and rep["hw_queries"] == 4000
    assert 0.7 < rep["latency"]["kendall_tau"] < 0.95
    for method, params in (("mathnas", {"variant": "single"}), ("lana", {})):
        with pytest.raises(HarnessError, match="titan_rtx_64") as e:
            predict_report(method, "imagenet", "titan_rtx_64", space="ofa_mbv3", **params)
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("device, q", [("v100_1", 0.3), ("2080ti_64", 0.7)])
def test_optimum_against_pandas(frame, device, q):
    """Independent: pandas on the CSV; size index = sum of expansion x kernel^2 over the arch's active layers."""
    limit, ok, expected = pandas_optimum(frame, device, q, "arch", r"k(\d)e(\d)")
    best = optimum(gt_of(device), {"latency": limit})
    assert (best.arch, best.row, best.objective_value) == (expected["arch"], expected["sample_index"], expected["size"])
    assert best.feasible_count == len(ok) and best.latency == expected[f"{device}_ms"]


def test_graph_is_a_chain_whose_input_carries_the_resolution(space):
    codes = space.enumerate()[:30]
    for prune in (False, True):
        adj, types = space.graph(codes, prune=prune)
        assert adj.shape == (30, 22, 22) and types.shape == (30, 22) and types.max() < space.num_node_types
        np.testing.assert_array_equal(types[:, 0], 10 + codes[:, 20])
        assert (types[:, -1] == 35).all() and not adj[:, np.arange(22), np.arange(22)].any()
        for k in range(30):
            nodes = np.flatnonzero(types[k] >= 0)
            expect = np.zeros((22, 22), dtype=bool)
            expect[nodes[:-1], nodes[1:]] = True
            np.testing.assert_array_equal(adj[k], expect)
        slots = types[:, 1:-1]
        np.testing.assert_array_equal(slots, np.where(codes[:, :20] == 9, -1, codes[:, :20]) if prune
                                      else codes[:, :20])
