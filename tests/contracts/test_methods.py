"""The method contract, over every registered method (built-ins and the example plug-in).

Explicit keyword parameters with a get_params round trip; an unknown parameter is a one-line error; the
oracle's budget is respected (an Oracle spy counts); the same seed gives the same result; `search` returns
a truly feasible code or none; `predict` returns one finite value per architecture and metric."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from core.errors import BudgetExhausted, HarnessError
from core.oracle import Oracle
from core.protocols import Problem, build_method, make_method, method_class
from core.registry import METHODS
from evaluation.evaluate import search_report
from evaluation.groundtruth import ground_truth

BUDGET = 30
# Small settings where a method's defaults would take minutes; every other method runs as registered.
FAST = {"brpnas": dict(rounds=2, epochs=3, hidden=16, latency_train_size=24, references=8)}
METHOD_NAMES = METHODS.names()


@pytest.fixture(scope="module")
def gt():
    return ground_truth("cifar10", "fpga")   # fpga latency is exactly additive: predicted limits are true ones


def problem(gt) -> Problem:
    return Problem("cifar10", "fpga", {"latency": float(np.median(gt.latency))})


def build(name, seed=0):
    return make_method(name, seed=seed, **FAST.get(name, {}))


def run(name, gt, seed=0, budget=BUDGET):
    """(method, oracle, outcome) of fitting a predictor, else searching; BudgetExhausted is an outcome too."""
    m, oracle = build(name, seed), Oracle(gt, budget=budget)
    try:
        out = m.search(problem(gt), oracle) if not m.can_predict() else m.fit(oracle)
    except BudgetExhausted as e:
        out = e
    return m, oracle, out


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_explicit_keyword_parameters_round_trip(name):
    cls = method_class(name)
    params = inspect.signature(cls.__init__).parameters
    assert all(p.kind is not p.VAR_KEYWORD for p in params.values()), "no **kwargs: parameters are explicit"
    assert "seed" in params
    m = build(name)
    again = type(m)(**m.get_params())
    assert again.get_params() == m.get_params()
    assert m.can_predict() or m.can_search()


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_unknown_parameter_is_a_one_line_error(name):
    cls = method_class(name)
    if cls.extra_params:   # MathNAS hands unknown keys to its variant, which refuses them
        with pytest.raises(HarnessError, match="no_such_parameter") as e:
            build_method(cls, name, 0, {"no_such_parameter": 1})
    else:
        with pytest.raises(HarnessError, match="no_such_parameter") as e:
            build_method(cls, name, 0, {"no_such_parameter": 1})
    assert "\n" not in str(e.value)
    with pytest.raises(HarnessError, match="seed"):
        build_method(cls, name, 0, {"seed": 3})


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_budget_is_respected(name, gt):
    for budget in (BUDGET, 5):
        _, oracle, _ = run(name, gt, budget=budget)
        assert oracle.queries <= budget


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_same_seed_same_result(name, gt):
    (a, _, out_a), (b, _, out_b) = run(name, gt, seed=3), run(name, gt, seed=3)
    if isinstance(out_a, BudgetExhausted):
        assert isinstance(out_b, BudgetExhausted)
        return
    if a.can_predict():
        pa, pb = a.predict(gt.codes[:500]), b.predict(gt.codes[:500])
        assert pa.keys() == pb.keys()
        for k in pa:
            np.testing.assert_array_equal(pa[k], pb[k])
    else:
        assert (out_a.code is None) == (out_b.code is None)
        if out_a.code is not None:
            np.testing.assert_array_equal(out_a.code, out_b.code)


@pytest.mark.parametrize("name", [n for n in METHOD_NAMES if method_class(n).can_search()])
def test_search_returns_a_truly_feasible_code_or_none(name, gt):
    rep = search_report(name, problem(gt), seed=0, budget=BUDGET, **FAST.get(name, {}))
    assert rep["queries"] <= BUDGET
    assert rep["arch"] is None or rep["feasible"] is True, rep
    if rep["arch"] is not None:   # re-scored by truth, not by the method's own prediction
        assert rep["true_accuracy"] == pytest.approx(float(gt.accuracy[rep["arch_index"]]))
        assert rep["regret"] == pytest.approx(rep["optimum_accuracy"] - rep["true_accuracy"])
    assert [t["evaluations"] for t in rep["trajectory"]] == list(range(1, rep["queries"] + 1))


@pytest.mark.parametrize("name", [n for n in METHOD_NAMES if method_class(n).can_predict()])
def test_predict_returns_one_finite_value_per_architecture(name, gt):
    m, oracle, out = run(name, gt)
    assert not isinstance(out, BudgetExhausted), out
    codes = gt.codes[np.random.default_rng(0).choice(gt.size, 700, replace=False)]
    pred = m.predict(codes)
    assert "accuracy" in pred and set(pred) <= {"accuracy", "latency", "energy"}
    for v in pred.values():
        v = np.asarray(v)
        assert v.shape == (700,) and np.all(np.isfinite(v))


@pytest.mark.parametrize("name", [n for n in METHOD_NAMES if method_class(n).can_search()])
@pytest.mark.parametrize("regime", ["blind", "charged"])
def test_search_spends_hardware_within_the_regime(name, regime, gt):
    """Under a limited hardware regime a searcher stays within both budgets, or refuses in one line."""
    try:
        rep = search_report(name, problem(gt), seed=0, budget=BUDGET, regime=regime, hw_budget=20, hw_cost=0.2,
                            **FAST.get(name, {}))
    except HarnessError as e:
        assert "\n" not in str(e)
        return
    assert rep["regime"] == regime and rep["hw_queries"] <= 20 and rep["queries"] <= BUDGET
    if regime == "charged":
        assert rep["queries"] + 0.2 * rep["hw_queries"] <= BUDGET + 1e-9
    assert [t["evaluations"] for t in rep["trajectory"]] == list(range(1, rep["queries"] + 1))
    if rep["arch"] is not None and rep["trajectory"]:
        assert rep["trajectory"][-1]["arch_index"] == rep["arch_index"]
