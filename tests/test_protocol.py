"""A fair protocol: every method under every hardware regime, trajectories, the fit cache, splits, noise ceilings.

Real NB201 ground truth and the registered methods throughout (BRP-NAS with small GCNs so the set stays fast)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import fitcache
from core.errors import BudgetExhausted, HarnessError
from core.oracle import Oracle
from core.protocols import BlockCosts, Problem, Task
from core.registry import METHODS, SPACES
from evaluation.evaluate import predict_report, search_report
from evaluation.groundtruth import ground_truth
from harness.cli import main
from spaces import load_space
from spaces.synthetic import make_space

SEARCHERS = [n for n in ("mathnas", "lana", "brpnas", "random", "evolution")]
FAST = {"brpnas": dict(rounds=2, epochs=3, hidden=16, latency_train_size=24, references=8)}
PROBLEM = Problem("cifar100", "fpga", {"latency": 4.0})


@pytest.fixture(scope="module")
def gt():
    return ground_truth("cifar100", "fpga")


def check_trajectory(rep: dict) -> None:
    """One entry per new evaluation, spent counts never decrease, and the last entry is the reported answer."""
    traj = rep["trajectory"]
    assert [t["evaluations"] for t in traj] == list(range(1, rep["queries"] + 1)) or \
        (rep["queries"] == 0 and all(t["evaluations"] == 0 for t in traj))
    hw = [t["hw_queries"] for t in traj]
    assert hw == sorted(hw) and all(h <= rep["hw_queries"] for h in hw)
    if rep["arch_index"] is not None and traj:
        last = traj[-1]
        assert last["arch_index"] == rep["arch_index"]
        assert last["true_accuracy"] == rep["true_accuracy"] and last["feasible"] == rep["feasible"]


# --- the oracle's allowance ------------------------------------------------------------------------------
def test_hw_allowance_under_each_regime(gt):
    free = Oracle(gt, budget=10)
    assert free.hw_allowance() is None and not free.hw_limited
    blind = Oracle(gt, budget=10, regime="blind")
    assert blind.hw_remaining == 10
    blind.latency(gt.codes[:4])
    blind.latency(gt.codes[:4])                       # re-reading is free
    assert blind.hw_remaining == 6 and blind.hw_measured(gt.codes[:5]).tolist() == [True] * 4 + [False]
    charged = Oracle(gt, budget=10, regime="charged", hw_cost=0.5)
    assert charged.hw_allowance() == 20 and charged.hw_allowance(reserve=4) == 12
    charged.accuracy(gt.codes[:3])
    charged.latency(gt.codes[:2])
    assert charged.spent == 4 and charged.remaining == 6 and charged.hw_allowance(reserve=1) == 10
    with pytest.raises(BudgetExhausted):
        charged.latency(gt.codes[10:23])              # 13 x 0.5 > 6 left


def test_fingerprint_names_the_content_not_the_device(gt):
    a = Oracle(gt).fingerprint("accuracy")
    assert a == Oracle(ground_truth("cifar100", "pixel3")).fingerprint("accuracy")   # same accuracy table
    assert a != Oracle(ground_truth("cifar10", "fpga")).fingerprint("accuracy")
    # NB201's latency tables serve every dataset: one fingerprint, so latency fits are shared across datasets
    assert Oracle(gt).fingerprint("latency") == Oracle(ground_truth("cifar10", "fpga")).fingerprint("latency")
    assert Oracle(gt).fingerprint("latency") != Oracle(ground_truth("cifar100", "pixel3")).fingerprint("latency")


# --- every method under every regime -------------------------------------------------------------------------
@pytest.mark.parametrize("method", SEARCHERS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(1, 120), hw_budget=st.integers(0, 120), seed=st.integers(0, 3))
def test_blind_search_never_exceeds_its_hardware_budget(method, budget, hw_budget, seed):
    """Random search and evolution always finish within both budgets; the others finish, or refuse in one line
    when the regime cannot pay for what they need (never by overrunning the oracle midway)."""
    try:
        rep = search_report(method, PROBLEM, seed=seed, budget=budget, regime="blind", hw_budget=hw_budget,
                            **FAST.get(method, {}))
    except HarnessError as e:
        assert method not in ("random", "evolution"), e
        assert "\n" not in str(e) and any(w in str(e) for w in ("budget", "regime", "measure")), e
        return
    assert rep["queries"] <= budget and rep["hw_queries"] <= hw_budget and rep["regime"] == "blind"
    check_trajectory(rep)
    assert rep["arch"] is None or rep["feasible"] is not None


@pytest.mark.parametrize("method", SEARCHERS)
def test_cli_blind_26_returns_the_same_keys_and_a_trajectory(method, capsys):
    args = ["search", "--method", method, "--dataset", "cifar100", "--device", "fpga", "--max-latency", "4",
            "--budget", "26", "--hardware", "blind", "--json"]
    for k, v in FAST.get(method, {}).items():
        args += ["--param", f"{k}={v}"]
    assert main(args) == 0
    rep = json.loads(capsys.readouterr().out)
    for key in ("arch", "arch_index", "true_accuracy", "feasible", "optimum_accuracy", "regret", "queries",
                "hw_queries", "search_seconds", "regime", "trajectory", "search_split", "score_split"):
        assert key in rep, key
    assert rep["queries"] <= 26 and rep["hw_queries"] <= 26 and rep["regime"] == "blind"
    check_trajectory(rep)


@pytest.mark.parametrize("method", ["random", "evolution"])
def test_charged_hardware_is_paid_from_the_evaluation_budget(method):
    rep = search_report(method, PROBLEM, seed=1, budget=40, regime="charged", hw_cost=0.25)
    assert rep["queries"] + 0.25 * rep["hw_queries"] <= 40 + 1e-9
    assert rep["queries"] < 40 and rep["feasible"]       # some of the budget went to measurements
    check_trajectory(rep)


def test_random_search_stops_when_it_cannot_measure_and_its_answer_is_checked(gt):
    rep = search_report("random", PROBLEM, seed=0, budget=50, regime="blind", hw_budget=12)
    assert rep["hw_queries"] == 12 and rep["queries"] < 12 and rep["stop_reason"] == "hardware budget"
    assert rep["feasible"] is True


def test_mathnas_repair_checks_within_the_regime():
    limits = Problem("cifar100", "pixel3", {"latency": 14.0})
    free = search_report("mathnas", limits, budget=40, repair=5)
    assert free["hw_queries"] > 26 and free["feasible"] is True         # repaired with extra measurements
    blind = search_report("mathnas", limits, budget=26, regime="blind", repair=5)
    assert blind["hw_queries"] == 26 and blind["repair_stop"] == "hardware budget"
    assert blind["arch"] == search_report("mathnas", limits, budget=26, regime="blind")["arch"]


def test_lana_refuses_up_front_when_charged_measurements_do_not_fit(gt):
    oracle = Oracle(gt, budget=26, regime="charged", hw_cost=0.1)
    with pytest.raises(BudgetExhausted, match="lana needs 25 evaluations and 25 hardware measurements"):
        METHODS.get("lana")().search(PROBLEM, oracle)
    assert oracle.queries == 0 and oracle.hw_queries == 0


def test_brpnas_sizes_its_latency_set_to_the_blind_budget():
    rep = search_report("brpnas", PROBLEM, seed=0, budget=30, regime="blind", **FAST["brpnas"])
    assert rep["latency_train_size"] == 24 and rep["hw_queries"] <= 30
    rep = search_report("brpnas", PROBLEM, seed=0, budget=30, regime="blind", hw_budget=20, **FAST["brpnas"])
    assert rep["latency_train_size"] == 16 and rep["hw_queries"] <= 20     # 20 less a reserve of 4 for checks
    with pytest.raises(HarnessError, match="hw_free=true reads the device for every network"):
        search_report("brpnas", PROBLEM, budget=30, regime="blind", hw_free=True, **FAST["brpnas"])


# --- the fit cache -----------------------------------------------------------------------------------------------
def _fit(gt, tmp_path, **params):
    m = METHODS.get("brpnas")(seed=0, **{**FAST["brpnas"], **params})
    oracle = Oracle(gt, budget=20)
    with fitcache.use(tmp_path / "fits") as cache:
        m.fit(oracle)
        return m, oracle, cache.stats


def test_fit_cache_hit_is_the_same_fit_and_charges_the_same_queries(gt, tmp_path):
    a, oa, first = _fit(gt, tmp_path)
    b, ob, second = _fit(gt, tmp_path)
    assert (first.misses, first.hits) == (2, 0) and (second.misses, second.hits) == (0, 2)   # latency, accuracy
    assert second.saved_seconds > 0
    assert (oa.queries, oa.hw_queries, oa.evaluated) == (ob.queries, ob.hw_queries, ob.evaluated)
    codes = gt.codes[:300]
    for metric, values in a.predict(codes).items():
        np.testing.assert_array_equal(values, b.predict(codes)[metric])
    c, _, third = _fit(gt, tmp_path, epochs=4)                  # any parameter change: another fit
    assert (third.misses, third.hits) == (2, 0)
    assert not np.array_equal(a.predict(codes)["accuracy"], c.predict(codes)["accuracy"])


def test_cached_fit_equals_a_fresh_fit_in_any_order(gt, tmp_path):
    """Per-predictor random streams: the accuracy fit is the same whether or not a latency fit ran first."""
    with_hw, _, _ = _fit(gt, tmp_path / "a")
    without_hw, _, _ = _fit(gt, tmp_path / "b", latency_train_size=0)
    codes = gt.codes[:300]
    np.testing.assert_array_equal(with_hw.train_rows, without_hw.train_rows)
    torch_free = {k: v for k, v in with_hw.predict(codes).items() if k == "accuracy"}
    np.testing.assert_allclose(torch_free["accuracy"], without_hw.predict(codes)["accuracy"], rtol=0, atol=0)


def test_fit_cache_keys_change_with_seed_budget_and_data():
    base = {"fit": "x", "params": {"a": 1}, "seed": 0, "n": 26, "table": "abc"}
    keys = {fitcache.key_of(base)} | {fitcache.key_of({**base, k: v}) for k, v in
                                      (("seed", 1), ("n", 100), ("table", "abd"), ("params", {"a": 2}))}
    assert len(keys) == 5 and fitcache.key_of(dict(reversed(list(base.items())))) == fitcache.key_of(base)


def test_unreadable_cache_entry_is_fitted_again(gt, tmp_path):
    _fit(gt, tmp_path)
    for f in (tmp_path / "fits").glob("*.fit"):
        f.write_bytes(b"garbage")
    _, _, stats = _fit(gt, tmp_path)
    assert stats.misses == 2 and stats.hits == 0


# --- splits and noise ceilings (a space with valid/test splits and per-seed accuracies) ---------------------------
class SeededSpace:
    """The registered synthetic space with a validation split and three seeds of noisy accuracy."""

    def __init__(self):
        self._base = make_space(m=6, n=3, seed=4, name="seeded")
        self.name, self.source = "seeded", "tests/test_protocol.py"
        self.tasks = {"toy": Task("toy", search_split="valid", score_split="test", seeds=3)}
        self.num_choices, self.choice_names = self._base.num_choices, self._base.choice_names
        self.skip_from, self.num_nodes = None, 6
        rng = np.random.default_rng(0)
        test = self._base.true_metric("accuracy", self._base.enumerate())
        self.seeds = test[None, :] + rng.normal(0, 1.0, size=(3, test.size))
        self.split = {"test": self.seeds.mean(axis=0), "valid": self.seeds[0] + rng.normal(0, 1.0, test.size)}

    size = property(lambda self: self._base.size)

    def enumerate(self):
        return self._base.enumerate()

    def index(self, codes):
        return self._base.index(codes)

    def encode(self, arch):
        return self._base.encode(arch)

    def decode(self, code):
        return self._base.decode(code)

    def sample(self, k, seed):
        return self._base.sample(k, seed)

    def block_costs(self, dataset):
        c = self._base.costs
        return BlockCosts(c.block_flops, c.const_flops, c.block_params, c.const_params)

    def accuracy(self, dataset, split="test"):
        return self.split[split]

    def seed_accuracies(self, dataset):
        return self.seeds


@pytest.fixture
def seeded():
    SPACES.add("seeded", lambda sources=None: SeededSpace())
    load_space.cache_clear()
    ground_truth.cache_clear()
    yield
    SPACES.discard("seeded")
    load_space.cache_clear()
    ground_truth.cache_clear()


def test_methods_search_on_valid_and_are_scored_on_test(seeded):
    gt = ground_truth("toy", "flops", space="seeded")
    assert not np.array_equal(gt.accuracy, gt.search_accuracy)
    oracle = Oracle(gt)
    np.testing.assert_array_equal(oracle.accuracy(gt.codes[:5]), gt.search_accuracy[:5])
    limit = float(np.median(gt.latency))
    rep = search_report("random", Problem("toy", "flops", {"latency": limit}, space="seeded"), budget=30)
    assert (rep["search_split"], rep["score_split"]) == ("valid", "test")
    best = float(np.max(gt.accuracy[gt.latency <= limit]))
    assert rep["optimum_accuracy"] == best and rep["true_accuracy"] == gt.accuracy[rep["arch_index"]]
    check_trajectory(rep)


def test_noise_ceilings_from_per_seed_accuracies(seeded):
    from scipy.stats import kendalltau

    gt = ground_truth("toy", "flops", space="seeded")
    seeds = gt.space.seeds
    pred = predict_report("mathnas", "toy", "flops", space="seeded")
    expected = np.mean([kendalltau(seeds[a], seeds[b]).statistic for a, b in ((0, 1), (0, 2), (1, 2))])
    assert pred["noise"] == {"seed_tau": pytest.approx(expected), "seeds": 3}
    limit = float(np.median(gt.latency))
    rep = search_report("random", Problem("toy", "flops", {"latency": limit}, space="seeded"), budget=20)
    ok = gt.latency <= limit
    by_seed = [rep["optimum_accuracy"] - gt.accuracy[np.argmax(np.where(ok, s, -np.inf))] for s in seeds]
    assert rep["noise"]["seed_regret"] == pytest.approx(np.mean(by_seed)) and rep["noise"]["seed_regret"] > 0
    # a space without seeds has no ceiling (and NB201 has none)
    assert "noise" not in predict_report("mathnas", "cifar10", "fpga")
