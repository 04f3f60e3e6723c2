"""Metrics against independent numpy/scipy computations."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from core import metrics

floats = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(floats, floats), min_size=3, max_size=40))
def test_correlations_and_errors_match_reference(pairs):
    p, t = map(np.array, zip(*pairs))
    if np.all(p == p[0]) or np.all(t == t[0]):
        return
    assert metrics.kendall_tau(p, t) == pytest.approx(stats.kendalltau(p, t)[0], nan_ok=True)
    assert metrics.spearman(p, t) == pytest.approx(stats.spearmanr(p, t)[0], nan_ok=True)
    assert metrics.mse(p, t) == pytest.approx(sum((a - b) ** 2 for a, b in pairs) / len(pairs))
    assert metrics.mae(p, t) == pytest.approx(sum(abs(a - b) for a, b in pairs) / len(pairs))


def test_kendall_tau_hand_example():
    # concordant pairs: (1,2)(1,3)(2,3) -> 3 of 3 for identical order, reversed -> -1
    assert metrics.kendall_tau([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert metrics.kendall_tau([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert metrics.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)


def test_top_k_overlap():
    true = np.arange(100.0)
    pred = true.copy()
    assert metrics.top_k_overlap(pred, true, 10) == 1.0
    pred[-5:] = -1  # the five best are predicted worst
    assert metrics.top_k_overlap(pred, true, 10) == 0.5


def test_regret_and_feasibility():
    assert metrics.regret(94.0, 93.5) == pytest.approx(0.5)
    assert metrics.regret(94.0, None) is None
    assert metrics.feasible({"latency": 3.0, "energy": 2.0}, {"latency": 3.0})
    assert not metrics.feasible({"latency": 3.1}, {"latency": 3.0})


def test_bootstrap_ci_covers_mean_and_is_seeded():
    x = np.random.default_rng(0).normal(5, 1, 50)
    lo, hi = metrics.bootstrap_ci(x, seed=3)
    assert lo < x.mean() < hi
    assert (lo, hi) == metrics.bootstrap_ci(x, seed=3)
    # against scipy directly
    ref = stats.bootstrap((x,), np.mean, confidence_level=0.95, n_resamples=2000, method="percentile",
                          random_state=np.random.default_rng(3)).confidence_interval
    assert (lo, hi) == pytest.approx((ref.low, ref.high))
    s = metrics.summarize([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == pytest.approx(1.0) and s["n"] == 3
