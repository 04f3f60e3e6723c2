"""Synthetic modular spaces: deterministic per seed, truth in closed form, problems solvable exactly."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import HarnessError
from solvers import solve
from analyses.solver_bench import synthetic_problem
from spaces.synthetic import METRICS, hash_normal, make_space


def _manual_truth(space, code):
    """The closed form of the module docstring, written out per code with plain Python loops."""
    c = [int(v) for v in code]
    out = {}
    for metric in METRICS:
        v = space.const[metric] + sum(float(space.main[metric][i][c[i]]) for i in range(space.num_nodes))
        for (i, k), W in zip(space.pairs, space.inter.get(metric, ())):
            v += float(W[c[i], c[k]])
        if metric == "accuracy":
            v += space.noise * float(hash_normal(np.array([c]), space.seed, 1)[0])
        elif metric in ("latency", "energy"):
            v *= 1.0 + space.hw_noise * float(hash_normal(np.array([c]), space.seed, {"latency": 2, "energy": 3}[metric])[0])
        out[metric] = v
    return out


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 6), n=st.integers(1, 5), seed=st.integers(0, 10**6), strength=st.floats(0, 1),
       noise=st.floats(0, 2), hw_noise=st.floats(0, 0.2))
def test_deterministic_and_closed_form(m, n, seed, strength, noise, hw_noise):
    a = make_space(m, n, seed=seed, strength=strength, noise=noise, hw_noise=hw_noise)
    b = make_space(m, n, seed=seed, strength=strength, noise=noise, hw_noise=hw_noise)
    codes = a.sample(20, seed=3)
    assert np.array_equal(codes, b.sample(20, seed=3))
    ta, tb = a.true_metrics(codes), b.true_metrics(codes)
    for metric in METRICS:
        assert np.array_equal(ta[metric], tb[metric])
    for code, k in zip(codes[:5], range(5)):
        manual = _manual_truth(a, code)
        for metric in METRICS:
            assert ta[metric][k] == pytest.approx(manual[metric], rel=1e-12, abs=1e-12)


def test_seeds_differ_and_sizes_scale():
    a, b = make_space(10, 5, seed=0), make_space(10, 5, seed=1)
    assert not np.allclose(a.main["accuracy"][0], b.main["accuracy"][0])
    big = make_space(200, 50, seed=0)
    assert big.num_choices == (50,) * 200 and len(big.pairs) == 199
    assert big.true_metrics(big.sample(100))["latency"].shape == (100,)


def test_additive_is_exact_without_interactions_and_best_fit_with_them():
    flat = make_space(4, 3, seed=2, strength=0.0, hw_strength=0.0)
    codes = flat.codes()
    for metric in ("accuracy", "latency", "energy", "flops", "params"):
        blocks, const = flat.additive(metric)
        approx = const + sum(b[codes[:, i]] for i, b in enumerate(blocks))
        assert np.allclose(approx, flat.true_metric(metric, codes))
    # with interactions: additive() equals the least-squares additive fit over all codes (ANOVA main effects)
    sp = make_space(4, 3, seed=2, strength=0.8)
    codes = sp.codes()
    blocks, const = sp.additive("accuracy")
    approx = const + sum(b[codes[:, i]] for i, b in enumerate(blocks))
    X = np.concatenate([np.ones((len(codes), 1))] + [np.eye(3)[codes[:, i]] for i in range(4)], axis=1)
    coef, *_ = np.linalg.lstsq(X, sp.true_metric("accuracy", codes), rcond=None)
    assert np.allclose(X @ coef, approx)
    resid = sp.true_metric("accuracy", codes) - approx
    assert abs(resid.mean()) < 1e-9 and resid.std() > 0.01


def test_noise_is_deterministic_and_standard_normal():
    codes = make_space(5, 10, seed=0).codes()[:20000]
    g = hash_normal(codes, 7, 1)
    assert np.array_equal(g, hash_normal(codes, 7, 1))
    assert not np.array_equal(g, hash_normal(codes, 8, 1))
    assert abs(g.mean()) < 0.03 and abs(g.std() - 1) < 0.03


def test_variable_depth_space():
    sp = make_space(5, 3, seed=1, skip_from=2)
    assert sp.num_choices == (3, 3, 4, 4, 4)
    codes = sp.codes()
    assert sp.depth_valid(codes).all() and len(codes) == 9 * (3 * 3 * 3 + 3 * 3 + 3 + 1)
    assert sp.depth_valid(sp.sample(500)).all()
    skip_all = np.array([[0, 0, 3, 3, 3]])
    m = sp.true_metrics(skip_all)
    full = np.array([[0, 0, 0, 0, 0]])
    assert m["flops"][0] < sp.true_metrics(full)["flops"][0]
    p = synthetic_problem(sp, "accuracy", latency_q=0.5, energy_q=None)
    assert p.skip_from == 2
    ref = solve(p, "enumerate")
    best = codes[p.feasible(codes)]
    assert ref.objective == pytest.approx(p.objective(best).max())


@pytest.mark.parametrize("objective", ["accuracy", "accuracy/flops"])
def test_problem_limits_are_quantiles_of_truth(objective):
    sp = make_space(5, 4, seed=3, strength=0.3, noise=0.5, hw_noise=0.05)
    p = synthetic_problem(sp, objective, latency_q=0.3, energy_q=0.6)
    codes = sp.codes()
    lat = next(c for c in p.constraints if c.name == "latency")
    en = next(c for c in p.constraints if c.name == "energy")
    assert lat.rhs == pytest.approx(np.quantile(sp.true_metric("latency", codes), 0.3))
    assert en.rhs == pytest.approx(np.quantile(sp.true_metric("energy", codes), 0.6))
    assert p.is_ratio == (objective == "accuracy/flops")
    blocks, const = sp.additive("accuracy")
    acc = const + sum(b[codes[:, i]] for i, b in enumerate(blocks))
    if objective == "accuracy":
        assert np.allclose(p.objective(codes), acc)
    else:
        assert np.allclose(p.objective(codes), acc / (sp.true_metric("flops", codes) * 1e-6))
    sol = solve(p, "highs")
    ref = solve(p, "enumerate")
    assert sol.objective == pytest.approx(ref.objective, rel=1e-6)


def test_bad_arguments_are_harness_errors():
    with pytest.raises(HarnessError):
        make_space(0, 3)
    with pytest.raises(HarnessError):
        make_space(3, [2, 2])
    with pytest.raises(HarnessError):
        make_space(3, 3, skip_from=5)
    sp = make_space(3, 3)
    with pytest.raises(HarnessError, match="unknown objective"):
        synthetic_problem(sp, "speed")
    with pytest.raises(HarnessError, match="outside 0..n_i-1"):
        sp.true_metrics([[0, 0, 3]])
    with pytest.raises(HarnessError, match="enumeration stops"):
        make_space(30, 10).codes()
