"""FBNet (../shared/fbnet): the loader against the README's facts, the lookup tables of the 4 HW-NAS-Bench
devices, the Oracle's off-sample answers and row split, hardware-only MathNAS/LANA, the exact optimum against
pandas, and the graph encoding for BRP-NAS."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from core.errors import BudgetExhausted, HarnessError
from core.oracle import Oracle
from core.protocols import Problem, make_method
from core.sources import Sources
from devices import get_profile
from devices.help_tables import LUT_DEVICES, lookup_tables
from evaluation.evaluate import predict_report, search_report
from evaluation.groundtruth import ground_truth, optimum
from harness.cli import main
from spaces import fbnet, load_space

CSV = Sources().folder("fbnet") / fbnet.FILE
LUT = Sources().folder("fbnet") / "fbnet_hwnasbench_lut_ms.csv"


@pytest.fixture(scope="module")
def frame():
    return pd.read_csv(CSV, dtype={"arch": str})


@pytest.fixture(scope="module")
def space():
    return load_space("fbnet")


def gt_of(device):
    return ground_truth("cifar100", device, space="fbnet")


# --- the loader against ../shared/fbnet/README.md ---------------------------------------------------------
def test_rows_choices_and_devices_are_the_readmes(space):
    tables = fbnet.load_tables()
    assert space.size == 5000 and space.num_choices == (9,) * 22 and space.skip_from is None
    assert space.choice_names[0][8] == "skip" and space.choice_names[5][7] == "k5_e6"
    assert len(tables.latency) == 27 and set(tables.latency) == set(fbnet.DEVICES)
    codes = space.enumerate()
    assert np.unique(codes, axis=0).shape[0] == 5000                     # no duplicate arch
    depth = (codes != fbnet.SKIP).sum(axis=1)
    assert depth.min() == 13 and depth.max() == 22
    counts = np.stack([np.bincount(codes[:, layer], minlength=9) for layer in range(22)])
    assert counts.min() >= 491                                             # every (layer, op) is identified
    task = space.tasks["cifar100"]
    assert not task.has_accuracy and (task.search_split, task.score_split) == ("train", "test")


def test_spot_values_and_ranges_are_the_readmes():
    lat = fbnet.load_tables().latency
    # the README's values of the raw .pt files; the CSV keeps 9 significant digits
    assert lat["fpga"][0] == 25.30272 and lat["pixel3"][4999] == pytest.approx(17.210647408, rel=1e-8)
    assert lat["gold_6226"][1234] == pytest.approx(130.0310752, rel=1e-8)
    ranges = {"fpga": (9.38, 41.72), "eyeriss": (3.85, 7.34), "pixel3": (8.32, 30.12), "raspi4": (16.96, 53.09),
              "gold_6226": (33.25, 244.40), "2080ti_1": (5.94, 9.25), "titan_rtx_64": (7.71, 14.13),
              "samsung_s7": (32, 159)}
    for device, (lo, hi) in ranges.items():
        assert (round(lat[device].min(), 2), round(lat[device].max(), 2)) == (lo, hi), device


def test_arch_strings_both_ways(space, frame):
    for r in (0, 17, 4999):
        code = space.enumerate()[r]
        assert space.decode(code) == frame["arch"][r]
        assert space.ops(code) == frame["ops"][r]
        np.testing.assert_array_equal(space.encode(frame["arch"][r]), code)
    for bad, part in (("781848887414732732424", "22 digits"), ("7818488874147327324249", "22 digits"),
                      ("78184888741473273242x5", "22 digits"), (42, "string")):
        with pytest.raises(HarnessError, match=part) as e:
            space.encode(bad)
        assert "\n" not in str(e.value)
    with pytest.raises(HarnessError, match="not among the table's 5,000"):
        space.index(np.zeros((1, 22), dtype=int))
    with pytest.raises(HarnessError, match="0..n_i-1"):
        space.lookup(np.full((1, 22), 9))


def test_sample_draws_the_whole_space_seeded(space):
    a = space.sample(2000, 3)
    np.testing.assert_array_equal(a, space.sample(2000, 3))
    assert a.shape == (2000, 22) and set(np.unique(a)) == set(range(9))
    assert (space.lookup(a) == -1).mean() > 0.99                          # 5,000 of 9^22: almost never a row
    np.testing.assert_array_equal(space.lookup(space.enumerate()[[3, 4000]]), [3, 4000])


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.assign(**{c: f[c].where(f.index != 7, f[c][3]) for c in f.columns if c != "sample_index"}),
     "row 7 repeats the architecture of row 3"),
    (lambda f: f.assign(arch=f["arch"].where(f.index != 9, "123")), "row 9"),
    (lambda f: f.drop(columns=["raspi4_ms"]), "missing column 'raspi4_ms'"),
    (lambda f: f.assign(depth=f["depth"].where(f.index != 5, 3)), "row 5: column 'depth' disagrees"),
    (lambda f: f.iloc[:4999], "expected 5,000 rows"),
    (lambda f: f.assign(fpga_ms=f["fpga_ms"].where(f.index != 2, -1.0)), "non-positive latency"),
])
def test_a_corrupt_table_is_one_line(tmp_path, frame, edit, message):
    folder = tmp_path / "fbnet"
    folder.mkdir()
    edit(frame.copy()).to_csv(folder / fbnet.FILE, index=False)
    with pytest.raises(HarnessError, match=re.escape(message)) as e:
        fbnet.load_tables(Sources(root=str(tmp_path)))
    assert "\n" not in str(e.value) and fbnet.FILE in str(e.value)


def test_a_missing_folder_or_file_is_one_line(tmp_path):
    with pytest.raises(HarnessError, match="fbnet.*does not exist"):
        fbnet.load_tables(Sources(root=str(tmp_path)))
    (tmp_path / "fbnet").mkdir()
    with pytest.raises(HarnessError, match="missing data file"):
        fbnet.load_tables(Sources(root=str(tmp_path)))


# --- the lookup tables of fpga, eyeriss, pixel3, raspi4 --------------------------------------------------------
def test_the_lookup_tables_reproduce_every_sample(space):
    """The CSVs keep 9 significant digits, so the LUT sums can differ from the samples by their rounding:
    half a unit of the 9th digit of the sample plus that of each of the 23 table entries. fpga and eyeriss
    have short decimals and reproduce to 1e-9 ms; pixel3 and raspi4 only to the rounding (~1e-7 ms)."""
    luts, lat = lookup_tables(), fbnet.load_tables().latency
    lut = pd.read_csv(LUT)
    for device in LUT_DEVICES:
        err = np.abs(luts[device](space.enumerate()) - lat[device])
        entry = float(lut[lut.device == device].latency_ms.abs().max())
        bound = 0.5 * 10.0 ** (np.floor(np.log10(lat[device])) - 8) + 23 * 0.5 * 10.0 ** (np.floor(np.log10(entry)) - 8)
        assert np.all(err <= bound), device
        if device in ("fpga", "eyeriss"):
            assert err.max() < 1e-9
        assert luts[device].table[:, fbnet.SKIP].tolist() == [0.0] * 22        # the gauge: skip costs 0


def test_a_lookup_table_that_misses_a_sample_is_one_line(tmp_path):
    folder = tmp_path / "fbnet"
    shutil.copytree(Sources().folder("fbnet"), folder)
    lut = pd.read_csv(folder / LUT.name)
    lut.loc[(lut.device == "pixel3") & (lut.layer == 4) & (lut.op == "k5_e6"), "latency_ms"] += 0.01
    lut.to_csv(folder / LUT.name, index=False)
    with pytest.raises(HarnessError, match="the pixel3 table misses sample") as e:
        lookup_tables(Sources(root=str(tmp_path)))
    assert "\n" not in str(e.value)


# --- devices: merged names, exact answers -------------------------------------------------------------------------
def test_device_names_merge_with_nb201_and_keep_their_units(space):
    fpga = get_profile("fpga")
    assert fpga.covers("fbnet", "cifar100") and fpga.covers("nb201", "cifar10")
    assert fpga.answers_any_code("fbnet") and not fpga.answers_any_code("nb201")
    assert not get_profile("gold_6226").answers_any_code("fbnet")
    assert get_profile("1080ti_64").covers("fbnet") and not get_profile("1080ti_64").covers("nb201")
    assert get_profile("samsung_s7").resolution_ms == 1.0
    np.testing.assert_array_equal(fpga.values(space, "cifar100", None)["latency"], fbnet.load_tables().latency["fpga"])
    nb = load_space("nb201")
    assert fpga.values(nb, "cifar10", None)["latency"].shape == (15625,)
    with pytest.raises(HarnessError, match="no measurements for dataset 'cifar10'"):
        fpga.values(space, "cifar10", None)


# --- the Oracle: codes outside the table, the row split ---------------------------------------------------------
def test_off_sample_codes_are_answered_exactly_and_counted(space):
    gt = gt_of("fpga")
    oracle = Oracle(gt)
    new = space.sample(50, 11)
    assert (space.lookup(new) < 0).all()
    codes = np.vstack([new, new[:10], space.enumerate()[:5], space.enumerate()[:5]])   # repeats count once
    values = oracle.hardware("latency", codes)
    np.testing.assert_allclose(values[:50], lookup_tables()["fpga"](new), rtol=0, atol=0)
    np.testing.assert_array_equal(values[-5:], gt.latency[:5])
    assert oracle.hw_queries == 55 and oracle.answerable(codes).all()
    blind = Oracle(gt, regime="blind", hw_budget=20)
    blind.hardware("latency", new[:20])
    with pytest.raises(BudgetExhausted, match="hardware budget of 20"):
        blind.hardware("latency", new[20:21])
    charged = Oracle(gt, budget=3, regime="charged", hw_cost=0.1)
    charged.hardware("latency", new[:30])
    assert charged.spent == pytest.approx(3.0)
    with pytest.raises(BudgetExhausted):
        charged.hardware("latency", new[30:31])


def test_score_split_rows_are_refused_and_sample_only_devices_know_only_samples(space):
    for device in ("fpga", "gold_6226"):
        oracle = Oracle(gt_of(device))
        oracle.hardware("latency", space.enumerate()[[0, 3999]])
        with pytest.raises(HarnessError, match=r"row 4000 belongs to the score split 'test'.*'train' split: 4,000 of "
                                               r"5,000 rows") as e:
            oracle.hardware("latency", space.enumerate()[3998:4001])
        assert "\n" not in str(e.value) and oracle.hw_queries == 2
        assert not oracle.answerable(space.enumerate()[4500:4501])[0]
        with pytest.raises(HarnessError, match="no accuracy"):
            oracle.accuracy(space.enumerate()[:1])
    oracle = Oracle(gt_of("gold_6226"))
    with pytest.raises(HarnessError, match="device 'gold_6226' knows only the table's 5,000 sampled") as e:
        oracle.hardware("latency", space.sample(1, 0))
    assert "\n" not in str(e.value) and not oracle.answerable(space.sample(1, 0))[0]


# --- hardware-only methods -------------------------------------------------------------------------------------
def test_mathnas_single_on_a_lookup_table_device_is_exact_on_the_scored_rows():
    rep = predict_report("mathnas", "cifar100", "fpga", space="fbnet", variant="single")
    assert rep["accuracy"] is None and rep["energy"] is None
    lat = rep["latency"]
    assert lat["n"] == 1000 and lat["split"] == "test"
    assert lat["kendall_tau"] == pytest.approx(1.0) and lat["mse"] < 1e-20
    assert rep["queries"] == 0 and rep["hw_queries"] == 1 + 22 * 8 + 1   # the N_avg sweep and the base network


@pytest.mark.parametrize("device", ["fpga", "gold_6226"])
def test_mathnas_full_and_sampled_profile_the_train_rows_only(device):
    gt = gt_of(device)
    for variant, rows in (("full", 4000), ("sampled", 200)):
        oracle = Oracle(gt)
        m = make_method("mathnas", variant=variant).fit(oracle)
        assert oracle.hw_queries == rows and oracle.hardware_rows().max() < 4000
        pred = m.predict(gt.codes)
        assert set(pred) == {"latency"} and np.all(np.isfinite(pred["latency"]))
    rep = predict_report("mathnas", "cifar100", device, space="fbnet", variant="full")
    assert rep["latency"]["n"] == 1000 and 0.7 < rep["latency"]["kendall_tau"] < 0.95


def test_methods_needing_off_sample_codes_are_refused_in_one_line_on_sample_only_devices():
    for method, params, words in (("mathnas", {"variant": "single"}, "outside what fbnet/cifar100 on device"),
                                  ("lana", {}, "one-block swaps of its teacher")):
        with pytest.raises(HarnessError, match=words) as e:
            predict_report(method, "cifar100", "gold_6226", space="fbnet", **params)
        assert "\n" not in str(e.value) and "gold_6226" in str(e.value)
    with pytest.raises(HarnessError, match="paired=true needs every choice"):
        predict_report("mathnas", "cifar100", "fpga", space="fbnet", variant="sampled", variant_options={"paired": True})


def test_lana_teacher_is_the_largest_size_index_and_exact_on_lookup_devices(space):
    from baselines.lana import LANA

    gt = gt_of("raspi4")
    m = LANA().fit(Oracle(gt))
    assert space.ops(m.teacher) == "-".join(["k5_e6"] * 22)               # 6 x 5^2 = 150, the largest index
    assert set(m.predict(gt.codes[:3])) == {"latency"}
    rep = predict_report("lana", "cifar100", "raspi4", space="fbnet")
    assert rep["latency"]["n"] == 1000 and rep["latency"]["kendall_tau"] == pytest.approx(1.0)
    assert rep["hw_queries"] == 1 + 22 * 8


def test_search_is_refused_without_accuracy():
    with pytest.raises(HarnessError, match="search maximises accuracy.*hardware costs only") as e:
        search_report("random", Problem("cifar100", "fpga", {"latency": 20.0}, space="fbnet"))
    assert "\n" not in str(e.value)


def test_cli_predict_reports_latency_on_the_scored_rows(capsys):
    assert main(["predict", "--space", "fbnet", "--dataset", "cifar100", "--device", "fpga", "--method", "mathnas",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["latency"]["n"] == 1000 and out["latency"]["kendall_tau"] == pytest.approx(1.0)
    assert out["latency"]["mse"] < 1e-20 and out["accuracy"] is None


# --- the exact optimum: the biggest sampled network within the limit -----------------------------------------------
def pandas_optimum(frame: pd.DataFrame, device: str, q: float, ops: str, pattern: str):
    """Independent of the harness: the limit at quantile q of the device's column, the rows within it and the
    biggest of them (size index = sum of expansion x kernel^2 read off the `ops` column with `pattern`, whose
    groups are kernel and expansion; ties to the lower latency, then the lower sample index)."""
    limit = float(frame[f"{device}_ms"].quantile(q))
    size = frame[ops].str.findall(pattern).map(lambda found: sum(int(e) * int(k) ** 2 for k, e in found))
    ok = frame.assign(size=size)[frame[f"{device}_ms"] <= limit]
    expected = ok.sort_values(["size", f"{device}_ms", "sample_index"], ascending=[False, True, True]).iloc[0]
    return limit, ok, expected


@pytest.mark.parametrize("device, q", [("fpga", 0.25), ("fpga", 0.6), ("samsung_s7", 0.5)])
def test_optimum_against_pandas(frame, device, q):
    """Independent: pandas on the CSV, the size index read off the `ops` column's kernel and expansion."""
    limit, ok, expected = pandas_optimum(frame, device, q, "ops", r"k(\d)_e(\d)")
    best = optimum(gt_of(device), {"latency": limit})
    assert best.arch == expected["arch"] and best.row == expected["sample_index"]
    assert best.objective_value == expected["size"] and best.feasible_count == len(ok)
    assert best.accuracy is None and best.latency == expected[f"{device}_ms"]


def test_optimum_refusals_are_one_line():
    with pytest.raises(HarnessError, match="no architecture on fbnet/cifar100/fpga meets the limits"):
        optimum(gt_of("fpga"), {"latency": 1.0})
    with pytest.raises(HarnessError, match="has no flops"):
        optimum(gt_of("fpga"), {"flops": 1e6})


# --- the graph for BRP-NAS's GCN ---------------------------------------------------------------------------------
def test_graph_is_a_chain_with_op_types(space):
    codes = space.enumerate()[:40]
    for prune in (False, True):
        adj, types = space.graph(codes, prune=prune)
        assert adj.shape == (40, 24, 24) and adj.dtype == bool and types.shape == (40, 24)
        assert not adj[:, np.arange(24), np.arange(24)].any()
        assert (types[:, 0] == 9).all() and (types[:, -1] == 10).all() and types.max() < space.num_node_types
        present = types >= 0
        assert (adj.sum(axis=2) <= 1).all() and not adj[~present].any()
        for k in range(40):
            nodes = np.flatnonzero(present[k])
            expect = np.zeros((24, 24), dtype=bool)
            expect[nodes[:-1], nodes[1:]] = True                                # input -> present layers -> output
            np.testing.assert_array_equal(adj[k], expect)
            layers = types[k, 1:-1]
            if prune:
                np.testing.assert_array_equal(layers, np.where(codes[k] == 8, -1, codes[k]))
            else:
                np.testing.assert_array_equal(layers, codes[k])
