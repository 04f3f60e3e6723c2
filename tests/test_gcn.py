"""The BRP-NAS GCN on the space's own graph: NAS-Bench-201 encodings unchanged by the move to
`NB201Space.graph`, and the GCN, its binary relation head and BRP-NAS itself on a made-up chain space
(so the genericity is exercised, not assumed), including one far too large to enumerate."""
import hashlib

import numpy as np
import pytest
import torch
from scipy import stats

from baselines import gcn
from baselines.brpnas import BRPNAS
from core.oracle import Oracle
from core.truth import GroundTruth
from core.codes import lexicographic_rank, product_codes
from spaces.nb201 import EDGES, NB201Space


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tau(a, b) -> float:
    return float(stats.kendalltau(a, b).statistic)


# --- NAS-Bench-201: the encodings of the NB201-only predictor (commit f35f29a), kept verbatim -----
def _reference_cell_graphs(codes, prune):
    n6 = len(EDGES)
    dag = np.zeros((n6 + 2, n6 + 2), dtype=bool)
    for k, (dst, src) in enumerate(EDGES):
        if src == 0:
            dag[0, k + 1] = True
        for l, (dst2, src2) in enumerate(EDGES):
            if src2 == dst:
                dag[k + 1, l + 1] = True
        if dst == max(d for d, _ in EDGES):
            dag[k + 1, n6 + 1] = True
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    k = codes.shape[0]
    m = np.broadcast_to(dag, (k, n6 + 2, n6 + 2)).copy()
    types = np.empty((k, n6 + 2), dtype=np.int64)
    types[:, 0], types[:, -1] = 5, 6
    types[:, 1:-1] = codes
    if not prune:
        return m, types
    for j in range(n6):
        n = j + 1
        none, skip = codes[:, j] == 0, codes[:, j] == 1
        pred, succ = m[:, :, n].copy(), m[:, n, :].copy()
        m |= skip[:, None, None] & pred[:, :, None] & succ[:, None, :]
        gone = none | skip
        m[gone, n, :] = False
        m[gone, :, n] = False
    fw = np.zeros((k, n6 + 2), dtype=bool)
    bw = np.zeros_like(fw)
    fw[:, 0], bw[:, -1] = True, True
    for _ in range(n6 + 2):
        fw |= np.any(fw[:, :, None] & m, axis=1)
        bw |= np.any(m & bw[:, None, :], axis=2)
    keep = fw & bw
    m &= keep[:, :, None] & keep[:, None, :]
    types[~keep] = -1
    types[:, 0], types[:, -1] = 5, 6
    return m, types


def _reference_encode(codes, prune, norm):
    m, types = _reference_cell_graphs(codes, prune)
    k = m.shape[0]
    real = np.ones((k, 9), dtype=bool)
    real[:, 1:] = types >= 0
    real[:, 1], real[:, -1] = True, True
    a = np.zeros((k, 9, 9), dtype=np.float32)
    a[:, 1:, 1:] = m
    a[:, 0, 1:] = real[:, 1:]
    a[:, np.arange(9), np.arange(9)] = real
    if norm == "row":
        a /= np.maximum(a.sum(axis=2, keepdims=True), 1.0)
    x = np.zeros((k, 9, 8), dtype=np.float32)
    x[:, 0, 7] = 1.0
    rows, cols = np.nonzero(types >= 0)
    x[rows, cols + 1, types[rows, cols]] = 1.0
    return a, x


# sha256 of a.tobytes() + x.tobytes() over all 15,625 codes in lexicographic order, computed with the
# pre-refactor baselines/gcn.py (commit f35f29a): guards against the reference above drifting too.
DIGESTS = {
    (True, "row"): "7d81cb44b54cc223a8647232338d4dbb00278a5f195f922ad284d4e8979faf70",
    (True, "none"): "83f0782a10cf006680383ecf5629c415be066729335a6bcb26866596983018e7",
    (False, "row"): "ea4b097bdb9eabbc79346fd2b1b0e5b2159eb85b5ba107a3cb21ebaf6b543d50",
    (False, "none"): "c54eb1bcbb43ef7524904fbc6c899724d8fa57c73ae4f4200ea6a6bc561a858a",
}


@pytest.mark.parametrize("prune", [True, False])
@pytest.mark.parametrize("norm", ["row", "none"])
def test_nb201_encodings_identical_to_the_nb201_only_predictor(prune, norm):
    codes = product_codes((5,) * 6)
    ref_a, ref_x = _reference_encode(codes, prune, norm)
    assert hashlib.sha256(ref_a.tobytes() + ref_x.tobytes()).hexdigest() == DIGESTS[prune, norm]
    space = NB201Space()
    a, x = gcn.encode(codes, prune, norm, space)
    assert a.dtype == np.float32 and x.dtype == np.float32
    np.testing.assert_array_equal(a, ref_a)
    np.testing.assert_array_equal(x, ref_x)
    # through the per-process table of a space whose enumeration order is not lexicographic
    order = codes[np.random.default_rng(0).permutation(codes.shape[0])]
    shuffled = NB201Space(order=order)
    ta, tx = gcn.graphs(order, prune, norm, shuffled)
    np.testing.assert_array_equal(ta.numpy(), ref_a[lexicographic_rank(order, (5,) * 6)])
    np.testing.assert_array_equal(tx.numpy(), ref_x[lexicographic_rank(order, (5,) * 6)])
    table = gcn.graph_table(shuffled, prune, norm)
    assert table.adj.shape[0] == (8687 if prune else 15625)
    assert gcn.graph_table(shuffled, prune, norm) is table          # cached per space


def test_nb201_space_graph_contract():
    space = NB201Space()
    m, types = space.graph(space.enumerate(), prune=True)
    assert m.shape == (15625, 8, 8) and m.dtype == bool and types.shape == (15625, 8)
    assert not m[:, np.arange(8), np.arange(8)].any()                  # no self-loops
    assert types.min() == -1 and types.max() == space.num_node_types - 1 == 6
    assert not m[types < 0].any() and not m.transpose(0, 2, 1)[types < 0].any()   # absent nodes: no edges
    _, raw = space.graph(space.enumerate(), prune=False)
    assert raw.min() == 0                                               # unpruned: every op is a node


# --- a made-up chain space: layer i feeds layer i+1; choice 0 is "skip" ----------------------------
class ChainSpace:
    """`layers` layers in a chain, `choices` ops each, choice 0 = skip. Graph: input, the layers, output;
    node types 0..choices-1 = ops, then input, output. `prune` drops the skips and moves the real ops
    up (absent nodes last), so codes with the same sequence of real ops share a graph. Enumerable up
    to `enumerable` codes."""

    name = "chain"

    def __init__(self, layers=4, choices=3, enumerable=50_000):
        self.num_choices = (choices,) * layers
        self.num_nodes = layers
        self.num_node_types = choices + 2
        self.size = choices ** layers
        self._enumerable = enumerable
        self.graph_calls = 0

    def enumerate(self):
        if self.size > self._enumerable:
            raise AssertionError("enumerate() called on a space too large to enumerate")
        return product_codes(self.num_choices)

    def index(self, codes):
        return lexicographic_rank(codes, self.num_choices)

    def graph(self, codes, prune=True):
        self.graph_calls += 1
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        k, n = codes.shape
        types = np.full((k, n + 2), -1, dtype=np.int64)
        adj = np.zeros((k, n + 2, n + 2), dtype=bool)
        for r, c in enumerate(codes):
            seq = c[c != 0] if prune else c
            t = [self.num_node_types - 2, *seq, self.num_node_types - 1]    # input, ops, output
            types[r, :len(t)] = t
            adj[r, np.arange(len(t) - 1), np.arange(1, len(t))] = True
        return adj, types


def chain_accuracy(codes) -> np.ndarray:
    """Synthetic accuracy, a function of the pruned graph (the sequence of real ops): op 2 is better
    than op 1, and more so late in the chain; depth helps a little."""
    acc = []
    for c in np.atleast_2d(codes):
        seq = [int(v) for v in c if v != 0]
        acc.append(60.0 + sum((2.0 if v == 2 else 1.0) * (1.0 + 0.37 * j) for j, v in enumerate(seq))
                   + 0.1 * len(seq) ** 2)
    return np.array(acc)


def distinct_graphs(space, codes, k, seed):
    """k codes with distinct pruned graphs and distinct accuracies."""
    _, _, inverse = gcn.distinct_graphs(codes, True, "row", space)
    acc = chain_accuracy(codes)
    rows, seen_g, seen_a = [], set(), set()
    for r in np.random.default_rng(seed).permutation(codes.shape[0]):
        if inverse[r] not in seen_g and round(acc[r], 3) not in seen_a:
            rows.append(r)
            seen_g.add(inverse[r])
            seen_a.add(round(acc[r], 3))
        if len(rows) == k:
            break
    return np.array(rows)


def test_chain_space_encoding_adds_the_global_node_and_drops_skips():
    space = ChainSpace()
    a, x = gcn.encode(np.array([[1, 0, 2, 0]]), True, "none", space)
    assert a.shape == (1, 7, 7) and x.shape == (1, 7, gcn.num_features(space)) and gcn.num_features(space) == 6
    present = [0, 1, 2, 3, 4]                     # global, input, op 1, op 2, output; two absent nodes
    np.testing.assert_array_equal(np.diagonal(a[0]), np.isin(np.arange(7), present).astype(np.float32))
    np.testing.assert_array_equal(a[0, 0], np.isin(np.arange(7), present).astype(np.float32))
    expected = np.eye(7, dtype=np.float32) * np.isin(np.arange(7), present)
    expected[0, present] = expected[1, 2] = expected[2, 3] = expected[3, 4] = 1   # global row, then the chain
    np.testing.assert_array_equal(a[0], expected)
    np.testing.assert_array_equal(x[0].argmax(axis=1)[present], [5, 3, 1, 2, 4])
    assert x[0, [5, 6]].sum() == 0                # absent nodes have no features at all
    a_row, _ = gcn.encode(np.array([[1, 0, 2, 0]]), True, "row", space)
    np.testing.assert_allclose(a_row[0].sum(axis=1), np.isin(np.arange(7), present), rtol=1e-6)
    _, _, inverse = gcn.distinct_graphs(space.enumerate(), True, "row", space)
    assert inverse.max() + 1 == 1 + 2 + 4 + 8 + 16   # sequences of 0..4 real ops out of 2


def chain_training_set(k: int, seed: int, binary: bool = False):
    """k chain networks with distinct graphs and accuracies, their encodings, accuracies and a fresh GCN."""
    space = ChainSpace()
    codes = space.enumerate()[distinct_graphs(space, space.enumerate(), k, seed=seed)]
    adj, feats = gcn.graphs(codes, True, "row", space)
    torch.manual_seed(0)
    model = gcn.GCN(num_features=gcn.num_features(space), hidden=64, dropout=0.0, binary=binary)
    return space, codes, adj, feats, chain_accuracy(codes), model


def test_gcn_regressor_overfits_a_chain_space_training_set():
    space, codes, adj, feats, y, model = chain_training_set(16, seed=0)
    cfg = gcn.TrainConfig(epochs=400, lr=3e-3, patience=400, batch_size=16)
    log = gcn.train(model, adj, feats, torch.from_numpy((y - y.mean()) / y.std()).float(), None, cfg,
                    torch.Generator().manual_seed(0))
    assert log.train_loss[-1] < 0.2 * log.train_loss[0]
    with torch.no_grad():
        pred = model.regress(gcn.embed_codes(model, codes, True, "row", space)).numpy()
    assert tau(pred, y) > 0.95


def test_binary_relation_head_ranks_a_tiny_chain_set():
    _, _, adj, feats, y, model = chain_training_set(10, seed=1, binary=True)
    cfg = gcn.TrainConfig(epochs=300, lr=3e-3, patience=300, batch_size=10, temperature=0.5)
    gcn.train(model, adj, feats, torch.from_numpy(y).float(), None, cfg, torch.Generator().manual_seed(0))
    emb = gcn.embed_all(model, adj, feats)
    np.testing.assert_array_equal(np.argsort(gcn.win_probability(model, emb, emb).numpy()), np.argsort(y))
    with torch.no_grad():
        p = torch.softmax(model.pair_logits(emb, emb), -1)[..., 0].numpy()
    assert np.all(p[y[:, None] > y[None, :]] > 0.5)


def chain_oracle(space, budget):
    """The real Oracle over a chain space's exact accuracy (BRP-NAS meets nothing else)."""
    gt = GroundTruth(space=space, dataset="chain", device="none", accuracy=chain_accuracy(space.enumerate()),
                     flops=None, params=None, latency=None, energy=None)
    return Oracle(gt, budget=budget)


def test_brpnas_fits_and_predicts_on_a_space_of_its_own():
    space = ChainSpace(layers=5, choices=3)
    oracle = chain_oracle(space, 40)
    m = BRPNAS(seed=0, rounds=2, epochs=100, hidden=32, lr=2e-3, latency_train_size=0,
               references=16, patience=100)
    m.fit(oracle)
    assert oracle.queries == 40
    pred = m.predict(space.enumerate())["accuracy"]
    assert pred.shape == (243,) and np.all(np.isfinite(pred))
    assert tau(pred, chain_accuracy(space.enumerate())) > 0.6    # 0.79-0.92 over seeds 0-2; untrained ~0


def test_a_space_too_large_to_enumerate_is_encoded_on_the_fly():
    space = ChainSpace(layers=22, choices=9, enumerable=0)      # 9^22 architectures
    assert gcn.graph_table(space, True, "row") is None
    codes = np.random.default_rng(0).integers(0, 9, size=(6, 22))
    codes[1] = codes[0]
    seq = codes[0][codes[0] != 0]
    codes[2] = np.concatenate([np.zeros(22 - seq.size, dtype=np.int64), seq])   # skips elsewhere: same graph
    codes[3, :] = 0
    codes[4, :] = 0                                             # two empty chains: one graph
    a, x, inverse = gcn.distinct_graphs(codes, True, "row", space)
    assert a.shape[1:] == (25, 25) and x.shape[1:] == (25, 12)
    assert inverse[0] == inverse[1] == inverse[2] and inverse[3] == inverse[4] and len(set(inverse)) == 3
    torch.manual_seed(0)
    model = gcn.GCN(num_features=gcn.num_features(space), hidden=16, dropout=0.0).eval()
    emb = gcn.embed_codes(model, codes, True, "row", space)
    full = gcn.embed_all(model, *gcn.graphs(codes, True, "row", space))
    torch.testing.assert_close(emb, full)


# --- the fast paths compute the published formula -------------------------------------------------
def dense_formula(model, adj, feats):
    """H' = ReLU(LN(A H W + b)) on every row of the padded graphs, global node read out (no dropout)."""
    h = feats
    for lin, norm in zip(model.layers, model.norms):
        h = torch.relu(norm(torch.bmm(adj, h @ lin.weight.T) + lin.bias))
    return h[:, 0]


def some_graphs():
    nb = NB201Space()
    codes = np.concatenate([np.zeros((2, 6), dtype=np.int64),                       # empty cells, twice
                            nb.enumerate()[np.random.default_rng(0).choice(15625, 120, replace=False)]])
    chain = ChainSpace(layers=5)
    return [(nb, gcn.graphs(codes, True, "row", nb)), (nb, gcn.graphs(codes, False, "none", nb)),
            (chain, gcn.graphs(chain.enumerate(), True, "row", chain))]


@pytest.mark.parametrize("layers", [1, 2, 4])
def test_packed_and_planned_forwards_equal_the_dense_formula_and_its_gradients(layers):
    for space, (adj, feats) in some_graphs():
        torch.manual_seed(layers)
        model = gcn.GCN(num_features=gcn.num_features(space), num_layers=layers, hidden=32, dropout=0.0)
        y = torch.randn(adj.shape[0])
        grads = []
        for forward in (lambda: dense_formula(model, adj, feats), lambda: model.embed_packed(adj, feats),
                        lambda: model.embed_plan(gcn.Plan.build(adj, feats, layers))):
            model.zero_grad()
            emb = forward()
            (model.regress(emb) * y).sum().backward()
            grads.append((emb.detach(), [p.grad.clone() for p in model.parameters()]))
        for emb, g in grads[1:]:
            torch.testing.assert_close(emb, grads[0][0], rtol=1e-4, atol=1e-5)
            for a, b in zip(g, grads[0][1]):
                torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("layers", [1, 3, 4])
def test_a_subset_of_a_plan_is_the_plan_of_the_subset(layers):
    for space, (adj, feats) in some_graphs():
        torch.manual_seed(0)
        model = gcn.GCN(num_features=gcn.num_features(space), num_layers=layers, hidden=16).eval()
        plan = gcn.Plan.build(adj, feats, layers)
        for seed in range(3):
            idx = np.random.default_rng(seed).choice(adj.shape[0], 20, replace=seed == 2)
            sub = plan.subset(idx)
            with torch.no_grad():
                direct = model.embed_plan(gcn.Plan.build(adj[idx], feats[idx], layers))
                torch.testing.assert_close(model.embed_plan(sub), direct)
            assert sub.x0.shape[0] <= plan.x0.shape[0] and len(sub.steps) == len(plan.steps)


def test_plan_computes_each_distinct_node_state_once():
    table = gcn.graph_table(NB201Space(), True, "row")
    plan = table.plan(4)
    real = int((torch.diagonal(table.adj, dim1=1, dim2=2) > 0).sum())
    assert real == 61836 and plan.graph.shape == (8687,)
    assert plan.x0.shape[0] == 162                                # distinct rows of A X
    assert plan.steps[0].shape == (6999, 162) and plan.steps[1].shape[1] == 6999   # far fewer than 61,836
    assert plan.readout.shape[0] < 8687                           # isomorphic graphs share a state
    assert table.plan(4) is plan


def test_embed_codes_whole_space_and_subset_agree():
    space = NB201Space()
    torch.manual_seed(0)
    model = gcn.GCN(hidden=32).eval()
    codes = space.enumerate()
    every = gcn.embed_codes(model, codes, True, "row", space)     # whole space, from the cached plan
    few = np.random.default_rng(1).choice(15625, 50, replace=False)
    torch.testing.assert_close(gcn.embed_codes(model, codes[few], True, "row", space), every[few], rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(every[:300], dense_formula(model, *gcn.graphs(codes[:300], True, "row", space)),
                                   rtol=1e-4, atol=1e-5)


def test_dropout_masks_rate_scale_and_seed():
    torch.manual_seed(5)
    m = gcn.dropout_mask((400, 600), 0.2)
    assert set(torch.unique(m).tolist()) == {0.0, 1.25}
    assert abs(float((m == 0).float().mean()) - 0.2) < 0.005      # 240,000 draws: 4 sd = 0.003
    torch.manual_seed(5)
    assert torch.equal(gcn.dropout_mask((400, 600), 0.2), m)
    rows = (m == 0).float().mean(dim=1)                          # no structure across the 16-bit lanes
    assert float(rows.std()) < 0.04


def test_dropout_per_node_or_per_state():
    space = ChainSpace()
    codes = space.enumerate()[[5, 5, 7]]                        # a graph twice
    adj, feats = gcn.graphs(codes, True, "row", space)
    torch.manual_seed(0)
    model = gcn.GCN(num_features=gcn.num_features(space), hidden=64, dropout=0.5).train()
    per_node = model.embed_packed(adj, feats)
    per_state = model.embed_plan(gcn.Plan.build(adj, feats, 4))
    assert not torch.equal(per_node[0], per_node[1])            # eagle: each node its own draw
    assert torch.equal(per_state[0], per_state[1])              # one draw per distinct state
    assert not torch.equal(per_state[0], per_state[2])


def test_win_probability_is_the_softmax_of_the_pair_logits():
    torch.manual_seed(0)
    model = gcn.GCN(hidden=16, binary=True)
    emb, ref = torch.randn(30, 16), torch.randn(7, 16)
    with torch.no_grad():
        expected = torch.softmax(model.pair_logits(emb, ref), -1)[..., 0].mean(1)
    torch.testing.assert_close(gcn.win_probability(model, emb, ref, batch=8), expected)


@pytest.mark.parametrize("dropout_per", ["node", "state"])
def test_brpnas_is_deterministic_per_seed(dropout_per):
    space = ChainSpace(layers=5)
    preds = []
    for _ in range(2):
        m = BRPNAS(seed=3, rounds=2, epochs=8, hidden=16, latency_train_size=0, references=8,
                   dropout_per=dropout_per).fit(chain_oracle(space, 30))
        preds.append(m.predict(space.enumerate())["accuracy"])
    np.testing.assert_array_equal(preds[0], preds[1])


def test_state_dropout_trains_under_bf16_autocast():
    space = ChainSpace(layers=5)
    m = BRPNAS(seed=0, rounds=2, epochs=3, hidden=16, latency_train_size=0, references=8,
               dropout_per="state", bf16=True).fit(chain_oracle(space, 20))
    assert np.all(np.isfinite(m.predict(space.enumerate())["accuracy"]))


def test_deviations_name_what_differs_from_eagle():
    dev = BRPNAS().deviations()
    assert all(": " in d and (" vs " in d or "(published: " in d) for d in dev)
    assert any(d.startswith("schedule: share (published: grow") for d in dev)
    assert not any(d.startswith("lr:") for d in dev)
    dev = BRPNAS(schedule="grow", lr=1e-3, dropout_per="state", latency_train_size=0).deviations()
    assert not any(d.startswith("schedule:") for d in dev)       # eagle's own schedule
    assert "lr: 0.001 (published: 0.00035)" in dev
    assert any(d.startswith("dropout: one draw per distinct") for d in dev)
    assert not any(d.startswith("latency predictor") for d in dev)
