"""Foundation: NB201 codes, data loader, exact optimum and Pareto front against brute force, oracle."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spaces.nb201_data import NUM_ARCHS, load_tables, resolve_data_dir
from core.errors import HarnessError
from evaluation.groundtruth import feasible_mask, ground_truth, optimum, pareto_front
from core.oracle import BudgetExhausted, Oracle
from spaces.nb201 import OPS, format_arch, parse_arch

DATA = resolve_data_dir()


@pytest.fixture(scope="module")
def acc_frame():
    return pd.read_csv(DATA / "accuracy.csv")


@pytest.fixture(scope="module")
def lat_frame():
    return pd.read_csv(DATA / "latency_ms.csv")


def test_round_trip_all_official_strings(acc_frame):
    tables = load_tables(str(DATA))
    codes = tables.space.enumerate()
    assert codes.shape == (NUM_ARCHS, 6)
    for i, arch in zip(acc_frame["arch_index"], acc_frame["arch"]):
        code = parse_arch(arch)
        assert format_arch(code) == arch
        assert np.array_equal(codes[i], code)
    assert np.array_equal(tables.space.index(codes), np.arange(NUM_ARCHS))


@given(st.lists(st.integers(0, 4), min_size=6, max_size=6))
def test_encode_decode_round_trip(code):
    assert list(parse_arch(format_arch(code))) == code


@pytest.mark.parametrize("bad, fragment", [
    ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5'"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2 edge(s)"),
    ("|none~0|+|none~0|none~1|", "expected 3 node groups"),
    ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "must read from input 1"),
    ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "malformed edge 'none0'"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must look like"),
])
def test_bad_arch_strings_name_the_bad_part(bad, fragment):
    with pytest.raises(HarnessError, match=None) as info:
        parse_arch(bad)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_loader_matches_published_maxima():
    tables = load_tables(str(DATA))
    for dataset, published in {"cifar10": 94.373, "cifar100": 73.513, "imagenet16_120": 47.311}.items():
        assert round(tables.accuracy[dataset].max(), 3) == published


def test_ground_truth_values_match_raw_files(acc_frame, lat_frame):
    gt = ground_truth("cifar100", "fpga")
    rng = np.random.default_rng(0)
    for i in rng.integers(0, NUM_ARCHS, 50):
        assert gt.accuracy[i] == acc_frame.loc[acc_frame.arch_index == i, "cifar100"].item()
        assert gt.latency[i] == lat_frame.loc[lat_frame.arch_index == i, "fpga"].item()
        assert format_arch(gt.codes[i]) == acc_frame.loc[acc_frame.arch_index == i, "arch"].item()


def test_optimum_checked_by_hand_with_pandas(acc_frame, lat_frame):
    """The issue's example: cifar100 on fpga under 4 ms, recomputed independently with pandas."""
    merged = acc_frame.merge(lat_frame[["arch_index", "fpga"]], on="arch_index")
    feasible = merged[merged.fpga <= 4.0]
    expected = feasible.sort_values(["cifar100", "arch_index"], ascending=[False, True]).iloc[0]
    best = optimum(ground_truth("cifar100", "fpga"), {"latency": 4.0})
    assert best.row == expected.arch_index and best.arch == expected.arch
    assert best.accuracy == expected.cifar100 and best.feasible_count == len(feasible)


def test_pi5_latency_and_energy_optimum_by_hand(acc_frame):
    hw = pd.read_parquet(DATA / "hw360.parquet")
    pi5 = hw[(hw.device == "pi5") & (hw.framework == "onnx") & (hw.task == "cifar100")]
    merged = acc_frame.merge(pi5, left_on="arch_index", right_on="arch_idx")
    feasible = merged[(merged.lat_ms_median <= 1.5) & (merged.energy_mj <= 3.0)]
    expected = feasible.sort_values(["cifar100", "arch_index"], ascending=[False, True]).iloc[0]
    best = optimum(ground_truth("cifar100", "pi5-onnx"), {"latency": 1.5, "energy": 3.0})
    assert best.row == expected.arch_index
    assert best.energy == expected.energy_mj and best.feasible_count == len(feasible)


@settings(max_examples=60, deadline=None)
@given(dataset=st.sampled_from(["cifar10", "cifar100", "imagenet16_120"]),
       device=st.sampled_from(["fpga", "eyeriss", "raspi4", "pixel3", "gold_6226"]),
       q_lat=st.floats(0.0, 1.0), q_flops=st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_optimum_equals_brute_force(dataset, device, q_lat, q_flops):
    gt = ground_truth(dataset, device)
    limits = {"latency": float(np.quantile(gt.latency, q_lat))}
    if q_flops is not None:
        limits["flops"] = float(np.quantile(gt.flops, q_flops))
    ok = [r for r in range(NUM_ARCHS) if gt.latency[r] <= limits["latency"]
          and ("flops" not in limits or gt.flops[r] <= limits["flops"])]
    if not ok:
        with pytest.raises(HarnessError, match="smallest feasible"):
            optimum(gt, limits)
        return
    best = optimum(gt, limits)
    assert best.accuracy == max(gt.accuracy[r] for r in ok)
    assert best.feasible_count == len(ok)
    assert gt.latency[best.row] <= limits["latency"]


def test_infeasible_limits_report_smallest_feasible_value():
    gt = ground_truth("cifar10", "fpga")
    with pytest.raises(HarnessError) as info:
        optimum(gt, {"latency": 0.01})
    assert f"{gt.latency.min():.6g}" in str(info.value)


def _dominated_brute(acc, costs, r):
    better_eq = (acc >= acc[r]) & np.all(costs <= costs[r], axis=1)
    strictly = (acc > acc[r]) | np.any(costs < costs[r], axis=1)
    return np.any(better_eq & strictly)


@pytest.mark.parametrize("device, costs", [("fpga", ("latency",)), ("pi5-onnx", ("latency", "energy"))])
def test_pareto_front_is_exactly_the_non_dominated_set(device, costs):
    gt = ground_truth("cifar100", device)
    front = set(pareto_front(gt, costs).tolist())
    cost = np.stack([gt.metric(c) for c in costs], axis=1)
    rng = np.random.default_rng(1)
    sample = list(front) + rng.integers(0, NUM_ARCHS, 300).tolist()
    for r in sample:
        if r in front:
            assert not _dominated_brute(gt.accuracy, cost, r)
        elif not _dominated_brute(gt.accuracy, cost, r):
            # an exact duplicate of a front point (same accuracy and costs) is kept once
            twins = np.flatnonzero((gt.accuracy == gt.accuracy[r]) & np.all(cost == cost[r], axis=1))
            assert front & set(twins.tolist())


def test_oracle_counts_distinct_and_enforces_budget():
    gt = ground_truth("cifar10", "fpga")
    oracle = Oracle(gt, budget=5)
    codes = gt.codes[:3]
    oracle.accuracy(codes)
    oracle.accuracy(codes[::-1])  # repeats are free
    assert oracle.queries == 3 and oracle.remaining == 2
    with pytest.raises(BudgetExhausted):
        oracle.accuracy(gt.codes[3:6])  # 3 new > 2 left: nothing is revealed
    assert oracle.queries == 3
    oracle.latency(gt.codes[:10])
    assert oracle.hw_queries == 10 and oracle.queries == 3
    np.testing.assert_array_equal(oracle.flops(codes), gt.flops[:3])


def test_feasible_mask_rejects_unknown_and_negative_limits():
    gt = ground_truth("cifar10", "fpga")
    with pytest.raises(HarnessError, match="unknown limit"):
        feasible_mask(gt, {"watts": 3})
    with pytest.raises(HarnessError, match=">= 0"):
        feasible_mask(gt, {"latency": -1})
    with pytest.raises(HarnessError, match="no energy"):
        feasible_mask(gt, {"energy": 3})


def test_ops_order_is_official():
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
