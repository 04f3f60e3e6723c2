"""Baselines: the BRP-NAS GCN (graph encoding, fitting, binary ranking), LANA's block scores, random
search and regularized evolution, all on real NAS-Bench-201 data through the budgeted oracle."""
import numpy as np
import pytest
import torch

from core.codes import lexicographic_rank
from baselines import gcn
from baselines.brpnas import BRPNAS
from baselines.evolution import RegularizedEvolution
from baselines.lana import LANA, BlockSum, evaluations_needed, teacher_code
from baselines.random_search import RandomSearch
from core.errors import HarnessError
from evaluation.evaluate import search_report
from evaluation.groundtruth import feasible_mask, ground_truth
from core.metrics import kendall_tau
from core.oracle import Oracle
from core.protocols import Problem
from spaces.nb201 import parse_arch

DATASET, DEVICE = "cifar100", "fpga"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def gt():
    return ground_truth(DATASET, DEVICE)


def distinct_graph_rows(gt, k, seed):
    """k networks with distinct graphs up to isomorphism and distinct accuracies (a perfect ranking
    exists). The GCN cannot tell isomorphic cells apart (e.g. the same two paths placed on different
    edges), so their fingerprint is the embedding of a random untrained GCN."""
    torch.manual_seed(123)
    probe = gcn.GCN(hidden=32, dropout=0.0)
    finger = np.round(gcn.embed_codes(probe, gt.codes).numpy().astype(np.float64), 4)
    rng = np.random.default_rng(seed)
    rows, seen_graph, seen_acc = [], set(), set()
    for r in rng.permutation(gt.codes.shape[0]):
        key, acc = finger[r].tobytes(), round(gt.accuracy[r], 1)
        if key not in seen_graph and acc not in seen_acc and gt.accuracy[r] > 30:
            rows.append(r)
            seen_graph.add(key)
            seen_acc.add(acc)
        if len(rows) == k:
            return np.array(rows)


# --- graph encoding ----------------------------------------------------------------------------
def test_cell_graph_matches_eagle_pruning():
    code = parse_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    m, types = gcn.cell_graphs(code)
    expected = np.zeros((8, 8), dtype=int)
    for a, b in [(0, 1), (0, 2), (0, 7), (1, 3), (1, 5), (2, 7), (3, 7), (5, 7)]:
        expected[a, b] = 1   # skips contracted (0->7 via skip~0, 2,3->7 via skip~2); none of them kept
    np.testing.assert_array_equal(m[0].astype(int), expected)
    np.testing.assert_array_equal(types[0], [gcn.INPUT, 3, 3, 4, -1, 3, -1, gcn.OUTPUT])


def test_empty_cell_and_row_normalisation():
    adj, feats = gcn.encode(np.zeros((1, 6), dtype=np.int64))          # all `none`: no path at all
    assert adj[0, 1:, 1:].sum() == pytest.approx(2.0)                  # only input/output self-loops
    np.testing.assert_allclose(adj[0].sum(axis=1)[[0, 1, 8]], 1.0)
    adj, _ = gcn.encode(np.full((1, 6), 3, dtype=np.int64))            # all conv3x3: nothing dropped
    np.testing.assert_allclose(adj[0].sum(axis=1), 1.0, rtol=1e-6)
    assert len(np.unique(gcn.graph_ids(np.array([[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])))) == 1  # dead branch


def test_packed_forward_equals_dense_formula(gt):
    torch.manual_seed(0)
    model = gcn.GCN(hidden=16, dropout=0.0).eval()
    adj, feats = gcn.graphs(gt.codes[:50])
    h = feats
    for lin, norm in zip(model.layers, model.norms):   # H' = ReLU(LN(A H W + b)) on all 9 rows
        h = torch.relu(norm(torch.bmm(adj, h @ lin.weight.T) + lin.bias))
    with torch.no_grad():
        np.testing.assert_allclose(model.embed(adj, feats).numpy(), h[:, 0].detach().numpy(), rtol=1e-4, atol=1e-5)


# --- GCN fitting -------------------------------------------------------------------------------
def test_gcn_regressor_overfits_a_tiny_training_set(gt):
    torch.manual_seed(0)
    rows = distinct_graph_rows(gt, 16, seed=1)
    adj, feats = gcn.graphs(gt.codes[rows])
    y = gt.accuracy[rows]
    target = torch.from_numpy((y - y.mean()) / y.std()).float()
    model = gcn.GCN(hidden=64, dropout=0.0)
    cfg = gcn.TrainConfig(epochs=500, lr=3e-3, patience=500, batch_size=16)
    log = gcn.train(model, adj, feats, target, None, cfg, torch.Generator().manual_seed(0))
    assert log.train_loss[-1] < 0.2 * log.train_loss[0]
    with torch.no_grad():
        pred = model.regress(model.embed(adj, feats)).numpy()
    assert kendall_tau(pred, y) > 0.95


def test_binary_relation_predictor_ranks_a_tiny_set(gt):
    torch.manual_seed(0)
    rows = distinct_graph_rows(gt, 10, seed=2)
    adj, feats = gcn.graphs(gt.codes[rows])
    y = torch.from_numpy(gt.accuracy[rows]).float()
    model = gcn.GCN(hidden=64, dropout=0.0, binary=True)
    cfg = gcn.TrainConfig(epochs=300, lr=3e-3, patience=300, batch_size=10, temperature=0.5)
    gcn.train(model, adj, feats, y, None, cfg, torch.Generator().manual_seed(0))
    emb = gcn.embed_all(model, adj, feats)
    score = gcn.win_probability(model, emb, emb).numpy()
    np.testing.assert_array_equal(np.argsort(score), np.argsort(gt.accuracy[rows]))
    with torch.no_grad():   # pairwise: every ordered pair is classified the right way round
        p = torch.softmax(model.pair_logits(emb, emb), -1)[..., 0].numpy()
    better = gt.accuracy[rows][:, None] > gt.accuracy[rows][None, :]
    assert np.all(p[better] > 0.5)


def tiny_brpnas(**kw):
    params = dict(rounds=2, epochs=3, hidden=16, latency_train_size=30, references=16)
    params.update(kw)
    return BRPNAS(seed=0, **params)


def test_brpnas_spends_exactly_its_budget_and_predicts_everything(gt):
    oracle = Oracle(gt, budget=20)
    m = tiny_brpnas(threads=2).fit(oracle)
    assert torch.get_num_threads() == 1          # the process setting is put back after the fit
    assert oracle.queries == 20 and oracle.hw_queries == 30
    out = m.predict(gt.codes)
    assert set(out) == {"accuracy", "latency"} and out["accuracy"].shape == (gt.codes.shape[0],)
    assert np.all(np.isfinite(out["accuracy"])) and np.all(np.isfinite(out["latency"]))
    # calibrated accuracies keep the ranking of the raw binary scores
    assert kendall_tau(out["accuracy"], m.scores(gt.codes)) == pytest.approx(1.0, abs=1e-4)
    # iterative selection: the second round's half from the top is better than random on average
    assert len(np.unique(m.train_rows)) == 20


def test_brpnas_search_hw_free_returns_a_truly_feasible_evaluated_network(gt):
    problem = Problem(DATASET, DEVICE, {"latency": 4.0})
    out = search_report("brpnas", problem, seed=0, budget=20, rounds=2, epochs=2, hidden=16, hw_free=True,
                        references=8)
    assert out["feasible"] and out["queries"] <= 20 and out["choice"] == "best evaluated"
    assert out["predicted"]["accuracy"] == pytest.approx(out["true_accuracy"])


def test_brpnas_rejects_bad_parameters():
    with pytest.raises(HarnessError, match="mode"):
        BRPNAS(mode="ternary")
    with pytest.raises(HarnessError, match="alpha"):
        BRPNAS(alpha=2)
    with pytest.raises(HarnessError, match="schedule"):
        BRPNAS(schedule="forever")


# --- LANA -------------------------------------------------------------------------------------
A = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 1.0], [0.0, 4.0, 2.0]])
F = np.array([[1.0, 5.0, 3.0], [2.0, 2.0, 7.0], [9.0, 4.0, 1.0]])
L = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 4.0], [2.0, 3.0, 1.0]])


def toy_accuracy(codes):
    """50 + sum of per-node terms + 10 when nodes 0 and 1 agree: NOT additive, so LANA's deltas are
    measurements around the teacher, not a fit."""
    codes = np.atleast_2d(codes)
    return 50 + A[0][codes[:, 0]] + A[1][codes[:, 1]] + A[2][codes[:, 2]] + 10.0 * (codes[:, 0] == codes[:, 1])


def toy_sum(table):
    return lambda codes: sum(table[i][np.atleast_2d(codes)[:, i]] for i in range(3))


class ToySpace:
    num_choices = (3, 3, 3)
    num_nodes = 3

    def decode(self, code):
        return "-".join(map(str, np.asarray(code).tolist()))

    def index(self, codes):
        return lexicographic_rank(codes, self.num_choices)


class ToyOracle:
    """The oracle interface on a 3 x 3 synthetic space (counts distinct evaluations like the real one)."""

    space, remaining, has_energy = ToySpace(), None, False

    def __init__(self):
        self.seen = set()

    def has(self, metric):
        return metric in ("accuracy", "latency", "flops", "params")

    def incumbent(self, code):
        self.last = code

    def hw_allowance(self, reserve=0):
        return None   # free hardware

    def hw_measured(self, codes):
        return np.zeros(len(np.atleast_2d(codes)), dtype=bool)

    def accuracy(self, codes):
        self.seen.update(map(tuple, np.atleast_2d(codes).tolist()))
        return toy_accuracy(codes)

    def hardware(self, metric, codes):
        if metric != "latency":
            raise HarnessError("no energy")
        return toy_sum(L)(codes)

    flops = staticmethod(toy_sum(F))
    params = staticmethod(toy_sum(F))


def test_lana_block_scores_match_hand_computation():
    teacher = teacher_code((3, 3, 3), toy_sum(F))
    np.testing.assert_array_equal(teacher, [1, 2, 0])          # argmax FLOPs per node: 5, 7, 9
    calls = []
    acc = BlockSum.fit(teacher, (3, 3, 3), lambda c: calls.append(len(c)) or toy_accuracy(c))
    assert calls == [7] == [evaluations_needed((3, 3, 3))]    # teacher + 2 swaps per node, one batch
    assert acc.base == 53.0                                    # 50 + 2 + 1 + 0
    np.testing.assert_allclose(acc.deltas[0], [-2.0, 0.0, 9.0])   # (0,2,0)=51, (2,2,0)=62 (agree bonus)
    np.testing.assert_allclose(acc.deltas[1], [2.0, 9.0, 0.0])    # (1,0,0)=55, (1,1,0)=62
    np.testing.assert_allclose(acc.deltas[2], [0.0, 4.0, 2.0])    # (1,2,1)=57, (1,2,2)=55
    assert acc(np.array([2, 1, 1]))[0] == 75.0 and toy_accuracy(np.array([2, 1, 1]))[0] == 55.0


def test_lana_search_solves_the_block_sum_ilp_on_a_synthetic_space():
    oracle = ToyOracle()
    m = LANA()
    res = m.search(Problem("cifar10", "fpga", {"latency": 5.0}), oracle)
    assert len(oracle.seen) == 7
    codes = np.array([[a, b, c] for a in range(3) for b in range(3) for c in range(3)])
    pred = m.predict(codes)
    ok = pred["latency"] <= 5.0
    np.testing.assert_allclose(pred["latency"], toy_sum(L)(codes))          # additive table: exact
    best = codes[ok][np.argmax(pred["accuracy"][ok])]
    np.testing.assert_array_equal(res.code, best)
    assert res.extra["solver_status"] == "optimal" and res.predicted["latency"] <= 5.0


def test_lana_on_nb201_uses_25_evaluations_and_the_all_conv3x3_teacher(gt):
    oracle = Oracle(gt, budget=100)
    m = LANA().fit(oracle)
    assert oracle.queries == 25 and oracle.hw_queries == 25
    np.testing.assert_array_equal(m.predictors["accuracy"].teacher, [3] * 6)
    np.testing.assert_allclose(m.predict(gt.codes[:1])["accuracy"], m.predictors["accuracy"](gt.codes[:1]))
    with pytest.raises(HarnessError, match="needs 25 evaluations"):
        LANA().fit(Oracle(gt, budget=24))


# --- random search and evolution -----------------------------------------------------------
@pytest.mark.parametrize("method", ["random", "evolution"])
def test_searchers_respect_the_budget_and_return_feasible_networks(gt, method):
    problem = Problem(DATASET, DEVICE, {"latency": 4.0})
    mask = feasible_mask(gt, problem.limits)
    for budget in (1, 30):
        out = search_report(method, problem, seed=3, budget=budget)
        assert out["queries"] <= budget and out["feasible"]
        assert mask[out["arch_index"]] and out["regret"] >= 0


def test_random_search_best_is_best_of_what_it_evaluated(gt):
    oracle = Oracle(gt, budget=40)
    res = RandomSearch(seed=5).search(Problem(DATASET, DEVICE, {"latency": 4.0}), oracle)
    seen = np.flatnonzero(oracle._seen)
    assert oracle.queries == 40 and np.all(feasible_mask(gt, {"latency": 4.0})[seen])
    assert res.predicted["accuracy"] == gt.accuracy[seen].max()


def test_evolution_is_seeded():
    problem = Problem(DATASET, DEVICE, {"latency": 4.0})
    runs = [search_report("evolution", problem, seed=s, budget=60, population=20, sample_size=5)
            for s in (7, 7, 8, 9)]
    keys = ("arch", "queries", "hw_queries", "steps")
    assert [runs[0][k] for k in keys] == [runs[1][k] for k in keys]
    assert len({(r["arch"], r["hw_queries"], r["steps"]) for r in runs[1:]}) > 1


def test_evolution_terminates_when_the_feasible_neighbourhood_is_used_up(gt):
    lat = np.sort(gt.latency)
    limit = float(lat[40])                    # only a few dozen networks meet it
    n_feasible = int(feasible_mask(gt, {"latency": limit}).sum())
    oracle = Oracle(gt, budget=500)
    res = RegularizedEvolution(seed=0, max_stall=200).search(Problem(DATASET, DEVICE, {"latency": limit}), oracle)
    assert oracle.queries <= n_feasible < 500
    assert res.extra["stop_reason"] == "stalled"
    assert feasible_mask(gt, {"latency": limit})[gt.space.index(res.code)[0]]


def test_random_search_without_any_budget_uses_100(gt):
    oracle = Oracle(gt)
    RandomSearch(seed=0).search(Problem(DATASET, DEVICE, {}), oracle)
    assert oracle.queries == 100
