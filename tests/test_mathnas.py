"""MathNAS block profiling and the Eq. 5 predictor: hand-derived tables, exactness on additive spaces,
O(m*n) cost counted by the real oracle, the variant registry and plugins."""
from __future__ import annotations

import itertools
import textwrap

import numpy as np
import pytest

from core.errors import HarnessError
from evaluation.evaluate import predict_report
from evaluation.groundtruth import ground_truth
from core.metrics import kendall_tau
from core.oracle import Oracle
from mathnas.blocks import BlockTables, FunctionEvaluator, Profiler, SpaceSpec
from mathnas.method import MathNAS
from mathnas.variants import VARIANTS, register_variant, run_variant
from core.codes import product_codes
from core.protocols import BlockCosts

# --- a 3 x 3 space with explicit numbers (tables derived by hand in the docstrings) -------------------
TOY_FLOPS = ([0.0, 10.0, 30.0], [5.0, 5.0, 20.0], [0.0, 12.0, 12.0])
TOY_CONST = 100.0
A = ([0.0, 3.0, 9.0], [1.0, 2.0, 4.0], [0.0, 5.0, 2.0])


def toy_accuracy(codes):
    """50 + a0 + a1 + a2 + 6 when node0 = 2 and node1 = 2 (one interaction)."""
    c = np.atleast_2d(codes)
    return (50.0 + sum(np.asarray(A[i])[c[:, i]] for i in range(3))
            + 6.0 * ((c[:, 0] == 2) & (c[:, 1] == 2)))


def toy_spec():
    costs = BlockCosts(tuple(np.array(f) for f in TOY_FLOPS), TOY_CONST, tuple(np.zeros(3) for _ in range(3)), 0.0)
    return SpaceSpec((3, 3, 3), costs, name="toy")


def toy_profiler(**kw):
    ev = FunctionEvaluator(lambda metric, codes: toy_accuracy(codes), metrics=("accuracy",))
    return Profiler(toy_spec(), ev, **kw), ev


def test_single_table_by_hand():
    """N_avg: node0 mean 13.3 -> choice 1 (10); node1 mean 10 -> choices 0,1 tie at 5 -> 0; node2 mean 8 ->
    choices 1,2 tie at 4 -> 1. Base (largest FLOPs, ties later): (2, 2, 2). In context (1, 0, 1) the
    interaction is off, so b_i[j] = a_i[2] - a_i[j]. Base value acc(2,2,2) = 50+9+4+2+6 = 71.
    Networks: N_avg swept (1 + 3*2 = 7) plus the base network = 8."""
    prof, ev = toy_profiler()
    t = run_variant("single", prof)
    assert t.context == (1, 0, 1) and t.base == (2, 2, 2)
    expected = ([9, 6, 0], [3, 2, 0], [2, -3, 0])
    for got, want in zip(t.blocks["accuracy"], expected):
        np.testing.assert_allclose(got, want)
    assert t.base_value["accuracy"] == 71.0
    assert t.ref_flops == 100 + 10 + 5 + 12
    assert ev.queries == 8
    # Eq. 5 on code (0, 1, 2): plain 71 - (9 + 2 + 0) = 60; FLOPs-scaled 71 - 127/117 * 11
    assert t.predict([[0, 1, 2]], flops_scaling=False)["accuracy"][0] == pytest.approx(60.0)
    assert t.predict([[0, 1, 2]])["accuracy"][0] == pytest.approx(71 - 127 / 117 * 11)


def test_full_table_by_hand():
    """Averaged over every context: node1 = 2 in a third of them, so switching node0 away from 2 also
    loses 6/3 = 2 on average (and likewise for node1): b0 = [11, 8, 0], b1 = [5, 4, 0], b2 = [2, -3, 0]."""
    prof, ev = toy_profiler()
    t = run_variant("full", prof)
    for got, want in zip(t.blocks["accuracy"], ([11, 8, 0], [5, 4, 0], [2, -3, 0])):
        np.testing.assert_allclose(got, want)
    flops = [TOY_CONST + sum(TOY_FLOPS[i][c[i]] for i in range(3)) for c in itertools.product(range(3), repeat=3)]
    assert t.ref_flops == pytest.approx(1 / np.mean(1 / np.array(flops)))
    assert ev.queries == 27


def test_base_choices():
    spec = toy_spec()
    assert run_variant("single", toy_profiler(base="smallest")[0]).base == (0, 0, 0)
    assert run_variant("single", toy_profiler(base=1)[0]).base == (1, 1, 1)
    assert run_variant("single", toy_profiler(base=[0, 2, 1])[0]).base == (0, 2, 1)
    with pytest.raises(HarnessError, match="base 'conv'"):
        Profiler(spec, FunctionEvaluator(lambda m, c: toy_accuracy(c), metrics=("accuracy",)), base="conv")


# --- exactly additive space: plain summation is exact ------------------------------------------------
def additive_space(seed=3, num_choices=(3, 4, 2, 5)):
    rng = np.random.default_rng(seed)
    parts = {m: [rng.uniform(0, 5, n) for n in num_choices] for m in ("accuracy", "latency", "energy")}
    const = {"accuracy": 40.0, "latency": 2.0, "energy": 7.0}

    def truth(metric, codes):
        codes = np.atleast_2d(codes)
        return const[metric] + sum(parts[metric][i][codes[:, i]] for i in range(len(num_choices)))

    flops = tuple(rng.uniform(0, 1e6, n) for n in num_choices)
    costs = BlockCosts(flops, 1e6, tuple(np.zeros(n) for n in num_choices), 0.0)
    return SpaceSpec(num_choices, costs, name="additive"), truth


@pytest.mark.parametrize("variant, params", [("full", {}), ("single", {}), ("single", {"base_net": "random"}),
                                             ("sampled", {"paired": True, "fraction": 0.2})])
def test_plain_sum_exact_on_additive_space(variant, params):
    spec, truth = additive_space()
    ev = FunctionEvaluator(truth)
    tables = run_variant(variant, Profiler(spec, ev, seed=1), **params)
    codes = product_codes(spec.num_choices)
    pred = tables.predict(codes, flops_scaling=False)
    for metric in ("accuracy", "latency", "energy"):
        true = truth(metric, codes)
        assert np.max(np.abs(pred[metric] - true)) < 1e-9
        assert kendall_tau(pred[metric], true) == pytest.approx(1.0)
    if variant == "full":
        assert ev.queries == spec.size
    elif variant == "single":  # one network swept node by node, plus the base network: O(m*n)
        assert ev.queries <= 1 + sum(n - 1 for n in spec.num_choices) + 1
    assert ev.hw_queries == ev.queries


def test_sampled_is_seeded_and_estimates_full():
    spec, truth = additive_space(num_choices=(4, 4, 4, 4))
    a = run_variant("sampled", Profiler(spec, FunctionEvaluator(truth), seed=5), fraction=0.3)
    b = run_variant("sampled", Profiler(spec, FunctionEvaluator(truth), seed=5), fraction=0.3)
    for x, y in zip(a.blocks["latency"], b.blocks["latency"]):
        np.testing.assert_array_equal(x, y)
    assert a.info["networks"] == round(0.3 * 256)
    full = run_variant("full", Profiler(spec, FunctionEvaluator(truth)))
    everything = run_variant("sampled", Profiler(spec, FunctionEvaluator(truth), seed=5), fraction=1.0)
    for x, y in zip(everything.blocks["accuracy"], full.blocks["accuracy"]):
        np.testing.assert_allclose(x, y)
    codes = product_codes(spec.num_choices)
    assert kendall_tau(a.predict(codes, flops_scaling=False)["accuracy"], truth("accuracy", codes)) > 0.8
    with pytest.raises(HarnessError, match="no network with node"):
        run_variant("sampled", Profiler(spec, FunctionEvaluator(truth)), fraction=0.01)


# --- NB201 through the harness oracle ---------------------------------------------------------------
def test_single_costs_o_mn_on_nb201():
    gt = ground_truth("cifar10", "fpga")
    oracle = Oracle(gt)
    m = MathNAS(seed=0).fit(oracle)
    # N_avg = all nor_conv_1x1 swept over 6 edges x 5 ops (1 + 6*4 networks) + the all-3x3 base network
    assert oracle.queries == 26 == oracle.hw_queries
    assert oracle.queries <= 6 * 5
    assert m.tables.context == (2,) * 6 and m.tables.base == (3,) * 6
    assert m.tables.base_value["accuracy"] == pytest.approx(gt.accuracy[gt.space.index([[3] * 6])[0]])
    with pytest.raises(HarnessError, match="budget of 20"):
        predict_report("mathnas", "cifar10", "fpga", budget=20)


def test_full_on_nb201_fpga_latency_is_exact_and_accuracy_ranks():
    """fpga latency is additive over edges (analytic model), so the full average predicts it exactly."""
    rep = predict_report("mathnas", "cifar10", "fpga", variant="full")
    assert rep["queries"] == 15625
    assert rep["latency"]["mae"] < 1e-9
    assert rep["accuracy"]["spearman"] > 0.7


def test_ablation_flags_change_predictions():
    gt = ground_truth("cifar100", "pi5-onnx")
    base = MathNAS().fit(Oracle(gt)).predict(gt.codes)
    assert set(base) == {"accuracy", "latency", "energy"}
    plain = MathNAS(flops_scaling="false").fit(Oracle(gt)).predict(gt.codes)
    np.testing.assert_array_equal(plain["latency"], base["latency"])  # scaling is for accuracy only
    assert not np.allclose(plain["accuracy"], base["accuracy"])
    r1 = MathNAS(seed=1, base_net="random").fit(Oracle(gt))
    r2 = MathNAS(seed=1, base_net="random").fit(Oracle(gt))
    assert r1.tables.context == r2.tables.context and r1.tables.info["base_net"] == "random"
    np.testing.assert_array_equal(r1.predict(gt.codes)["accuracy"], r2.predict(gt.codes)["accuracy"])
    op = MathNAS(base="nor_conv_1x1").fit(Oracle(gt))
    assert op.tables.base == (2,) * 6
    with pytest.raises(HarnessError, match="takes no parameter 'fraction'"):
        MathNAS(variant="full", fraction=0.1).fit(Oracle(gt))
    with pytest.raises(HarnessError, match="unknown MathNAS variant 'nope'"):
        MathNAS(variant="nope")


# --- user variants ----------------------------------------------------------------------------------
def test_registered_variant_runs_through_predict_report():
    @register_variant("test-two-contexts")
    def two_contexts(prof, contexts: int = 2):
        sweeps = [prof.sweep(prof.random_code()) for _ in range(int(contexts))]
        blocks = {m: tuple(sum(s[m][i] for s in sweeps) / len(sweeps) for i in range(prof.spec.num_nodes))
                  for m in prof.metrics}
        return prof.tables(blocks, ref_flops=float(prof.spec.flops(prof.average_code())[0]), variant="test-two-contexts")

    try:
        rep = predict_report("mathnas", "cifar10", "fpga", seed=2, variant="test-two-contexts", contexts=3)
        assert rep["accuracy"]["kendall_tau"] > 0.2 and rep["latency"]["kendall_tau"] > 0.9
        assert 25 < rep["queries"] <= 3 * 25 + 1
    finally:
        VARIANTS.discard("test-two-contexts")


def test_plugin_module_registers_variant(tmp_path, monkeypatch):
    (tmp_path / "my_mathnas_plugin.py").write_text(textwrap.dedent('''
        from mathnas.variants import register_variant

        @register_variant("test-plugin-avg")
        def avg(prof):
            """Algorithm 1 around N_avg; the base value extrapolated from N_avg instead of measured."""
            ctx = prof.average_code()
            blocks = prof.sweep(ctx)
            at_ctx = prof.evaluate(ctx)
            base = {m: float(at_ctx[m][0] + sum(b[c] for b, c in zip(blocks[m], ctx))) for m in prof.metrics}
            return prof.tables(blocks, ref_flops=float(prof.spec.flops(ctx)[0]), variant="test-plugin-avg",
                               base_value=base)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        rep = predict_report("mathnas", "cifar10", "fpga", variant="test-plugin-avg", plugin="my_mathnas_plugin")
        assert rep["queries"] == 25  # N_avg sweep only: no separate base network
        assert rep["accuracy"]["spearman"] > 0.5
        rep2 = predict_report("mathnas", "cifar10", "fpga", variant="test-plugin-avg",
                              plugin=str(tmp_path / "my_mathnas_plugin.py"))
        assert rep2["accuracy"] == rep["accuracy"]
    finally:
        VARIANTS.discard("test-plugin-avg")
    with pytest.raises(HarnessError, match="plugin 'no_such_mathnas_plugin'"):
        MathNAS(plugin="no_such_mathnas_plugin")


def test_variant_must_return_tables():
    @register_variant("test-bad")
    def bad(prof):
        return {"accuracy": 1}

    try:
        with pytest.raises(HarnessError, match="returned dict, not BlockTables"):
            run_variant("test-bad", toy_profiler()[0])
    finally:
        VARIANTS.discard("test-bad")
    assert isinstance(run_variant("single", toy_profiler()[0]), BlockTables)
