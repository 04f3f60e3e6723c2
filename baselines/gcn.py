"""The GCN predictor of BRP-NAS (Dudziak et al., NeurIPS 2020), on any space that describes its
architectures as graphs, in torch on CPU.

Graph (as in SamsungLabs/eagle): a space gives, per code, a DAG of typed nodes
(`space.graph(codes, prune) -> (adj (K, N, N) bool, types (K, N) int)`, type ids 0..num_node_types-1,
-1 = node absent) and `space.num_node_types`. NAS-Bench-201 (`spaces.nb201.NB201Space.graph`): ops are
nodes, 8 cell nodes (input, the six edge-ops in code order, output); with `prune` (eagle; right for
accuracy) `none` ops are removed, `skip_connect` ops contracted and nodes off every input->output path
dropped, so equivalent cells share a graph. Here the GCN adds a global node 0 that reads every present
node; its embedding after the last layer is the graph embedding. Adjacency is dense with self-loops on
present nodes and row-normalised (D^-1 (A + I)); features are one-hot types (num_node_types + 1 wide,
the last one marks the global node). Absent nodes are left out entirely (eagle keeps them as
feature-less rows whose only effect is on the global node, a constant times their count); the graph
already says what they said, and skipping them saves a third of the work on NAS-Bench-201.

Encodings are cached per process: a space with at most `TABLE_MAX` architectures is encoded once, all of
it, and identical graphs are stored once (NAS-Bench-201 pruned: 15,625 cells -> 8,687 graphs); larger
spaces (up to 9^22 architectures) are encoded on the fly, never enumerated.

Layers: H' = Dropout(ReLU(LayerNorm(A H W + b))). Heads: a linear regressor (accuracy or latency), or
the binary relation head: a linear 2-way classifier on the concatenated embeddings of two networks.

Speed (CPU). Training with dropout (`GCN.embed_packed`, a dropout draw per node as eagle): the 600x600
products run only on the rows of real nodes (packed), the aggregation is a dense batched (N+1)x(N+1)
product, the last layer computes only the global node (the one row read out), and dropout masks come
from 16-bit random numbers (`dropout_mask`; torch's Bernoulli draws were a fifth of a step). Everything
without dropout (validation every epoch, ranking the space in each selection round, predictions) goes
through a `Plan`: every distinct node state (Weisfeiler-Lehman colour) is computed once, with sparse
aggregation (ranking all of NAS-Bench-201: ~6x fewer 600x600 products than a row per node). `TrainConfig.dropout_per =
"state"` trains through plans too (a dropout draw per distinct node state of a batch instead of per
node: about a third of the 600x600 products of a step), a deviation from eagle, off by default.
"""
from __future__ import annotations

import math
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from spaces import nb201

NORMS = ("row", "none")
TABLE_MAX = 50_000     # spaces up to this size are encoded whole, once per process (deduplicated)
WHOLE_SPACE = 8        # embed_codes computes the whole table when asked for >= 1/8 of its graphs

# NAS-Bench-201 defaults, for callers that pass no space (the encodings of all 15,625 cells are
# identical to those of the NB201-only predictor this module replaced; tests/test_gcn.py checks it).
NUM_FEATURES = nb201.NB201Space.num_node_types + 1      # one-hot: 5 ops, input, output, global
INPUT, OUTPUT = nb201.INPUT_TYPE, nb201.OUTPUT_TYPE
_NB201 = None


def _space(space):
    global _NB201
    if space is not None:
        return space
    if _NB201 is None:
        _NB201 = nb201.NB201Space()
    return _NB201


def cell_graphs(codes: np.ndarray, prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """NAS-Bench-201 cell graphs (`NB201Space.graph`), kept under this name for older callers."""
    return _space(None).graph(codes, prune)


def num_features(space=None) -> int:
    """Width of the one-hot node features for `space`: its node types plus the global node."""
    return int(_space(space).num_node_types) + 1


def encode_graphs(m: np.ndarray, types: np.ndarray, num_node_types: int,
                  norm: str = "row") -> tuple[np.ndarray, np.ndarray]:
    """A space's graphs -> GCN inputs with the global node first: adjacency (K, N+1, N+1) float32 with
    self-loops on present nodes (row-normalised with norm="row") and one-hot features (K, N+1, T+1)."""
    if norm not in NORMS:
        raise ValueError(f"adjacency norm {norm!r} not in {NORMS}")
    m, types = np.asarray(m, dtype=bool), np.asarray(types, dtype=np.int64)
    if types.ndim != 2 or m.shape != types.shape + (types.shape[1],):
        raise ValueError(f"space graph: adjacency {m.shape} and node types {types.shape} "
                         "do not match (K, N, N) / (K, N)")
    if types.size and types.max() >= num_node_types:
        raise ValueError(f"space graph: node type {types.max()} >= num_node_types {num_node_types}")
    k, n = types.shape
    real = np.ones((k, n + 1), dtype=bool)
    real[:, 1:] = types >= 0
    a = np.zeros((k, n + 1, n + 1), dtype=np.float32)
    a[:, 1:, 1:] = m & real[:, 1:, None] & real[:, None, 1:]
    a[:, 0, 1:] = real[:, 1:]
    diag = np.arange(n + 1)
    a[:, diag, diag] = real
    if norm == "row":
        a /= np.maximum(a.sum(axis=2, keepdims=True), 1.0)
    x = np.zeros((k, n + 1, num_node_types + 1), dtype=np.float32)
    x[:, 0, num_node_types] = 1.0
    rows, cols = np.nonzero(types >= 0)
    x[rows, cols + 1, types[rows, cols]] = 1.0
    return a, x


def encode(codes: np.ndarray, prune: bool = True, norm: str = "row", space=None) -> tuple[np.ndarray, np.ndarray]:
    """codes -> (adjacency (K, N+1, N+1) float32, features (K, N+1, T+1) float32), global node first."""
    space = _space(space)
    if norm not in NORMS:
        raise ValueError(f"adjacency norm {norm!r} not in {NORMS}")
    m, types = space.graph(np.atleast_2d(np.asarray(codes, dtype=np.int64)), bool(prune))
    return encode_graphs(m, types, int(space.num_node_types), norm)


def _distinct(a: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the distinct encoded graphs and each graph's index into them. An encoding is fixed by
    the pattern of A (its values follow from it) and the node types, so those are the key."""
    k = a.shape[0]
    types = np.where(x.any(axis=2), x.argmax(axis=2), -1) + 1
    key = np.concatenate([np.packbits(a.reshape(k, -1) > 0, axis=1), types], axis=1).astype(np.int64)
    return _distinct_rows(key)


class GraphTable:
    """Every architecture of an enumerable space, encoded once: the distinct graphs as tensors and,
    per row of `space.enumerate()`, the id of its graph."""

    def __init__(self, space, prune: bool, norm: str):
        a, x = encode(space.enumerate(), prune, norm, space)
        first, self.ids = _distinct(a, x)
        self.adj, self.feats = torch.from_numpy(a[first]), torch.from_numpy(x[first])
        self._plans: dict[int, Plan] = {}

    def plan(self, layers: int) -> "Plan":
        """The distinct node states of all graphs of the space (built once per depth)."""
        if layers not in self._plans:
            with torch.inference_mode(False), torch.no_grad():   # cached: must stay usable with autograd
                self._plans[layers] = Plan.build(self.adj, self.feats, layers)
        return self._plans[layers]


_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # space -> {(prune, norm): GraphTable}


def graph_table(space, prune: bool = True, norm: str = "row") -> GraphTable | None:
    """The per-process table of `space` (built on first use), or None when the space is too large to
    enumerate (or cannot be cached), in which case graphs are encoded on the fly."""
    size = getattr(space, "size", None)
    if size is None or int(size) > TABLE_MAX or not hasattr(space, "enumerate") or not hasattr(space, "index"):
        return None
    try:
        per_space = _TABLES.setdefault(space, {})
    except TypeError:       # neither hashable nor weakly referenceable: no cache
        return None
    key = (bool(prune), norm)
    if key not in per_space:
        if norm not in NORMS:
            raise ValueError(f"adjacency norm {norm!r} not in {NORMS}")
        per_space[key] = GraphTable(space, bool(prune), norm)
    return per_space[key]


def distinct_graphs(codes: np.ndarray, prune: bool = True, norm: str = "row",
                    space=None) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The distinct graphs among `codes` (adjacency, features) and, per code, the
    index of its graph: identical graphs, hence identical predictions, are computed once."""
    space = _space(space)
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    table = graph_table(space, prune, norm)
    if table is None:
        a, x = encode(codes, prune, norm, space)
        first, inverse = _distinct(a, x)
        return torch.from_numpy(a[first]), torch.from_numpy(x[first]), inverse
    uniq, inverse = np.unique(table.ids[space.index(codes)], return_inverse=True)
    idx = torch.from_numpy(uniq)
    return table.adj[idx], table.feats[idx], inverse.reshape(-1)


def graph_ids(codes: np.ndarray, prune: bool = True, norm: str = "row", space=None) -> np.ndarray:
    """Id of each code's graph: equal ids = identical graphs (ids are global for enumerable spaces,
    local to this call otherwise)."""
    space = _space(space)
    table = graph_table(space, prune, norm)
    if table is None:
        return distinct_graphs(codes, prune, norm, space)[2]
    return table.ids[space.index(np.atleast_2d(np.asarray(codes, dtype=np.int64)))]


def graphs(codes: np.ndarray, prune: bool = True, norm: str = "row", space=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Tensors (adjacency, features) for each of `codes`, from the per-process table when there is one."""
    space = _space(space)
    table = graph_table(space, prune, norm)
    if table is None:
        a, x = encode(codes, prune, norm, space)
        return torch.from_numpy(a), torch.from_numpy(x)
    idx = torch.from_numpy(table.ids[space.index(np.atleast_2d(np.asarray(codes, dtype=np.int64)))])
    return table.adj[idx], table.feats[idx]


def real_nodes(adj: torch.Tensor) -> torch.Tensor:
    """Flat indices (into B*(N+1) rows) of the nodes a batch really has: those with a self-loop."""
    return torch.nonzero(torch.diagonal(adj, dim1=1, dim2=2).reshape(-1) > 0).squeeze(1)


def _spmm(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sparse (CSR) times dense, in float32 also under bf16 autocast (no bf16 sparse kernel on CPU)."""
    with torch.autocast("cpu", enabled=False):
        return torch.mm(m, x.float())


def dropout_mask(shape, p: float, dtype=torch.float32) -> torch.Tensor:
    """Inverted-dropout multiplier (0 or 1/(1-p)) from the default torch generator. Four 16-bit numbers
    come out of each 64-bit draw, so a mask costs a quarter of the draws of `torch.bernoulli` (which made
    dropout a fifth of a training step); p is rounded to a multiple of 1/65536."""
    n = math.prod(shape)
    bits = torch.randint(-2**63, 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64).view(torch.int16)[:n]
    return (bits >= -32768 + round(p * 65536)).view(shape).to(dtype) * (1.0 / (1.0 - p))


class _CSR:
    """A sparse matrix as numpy CSR arrays (cheap to slice) and as a torch CSR tensor `t` (products)."""

    def __init__(self, crow: np.ndarray, col: np.ndarray, val: np.ndarray, shape: tuple[int, int]):
        self.crow, self.col, self.val, self.shape = crow, col, val, shape
        with warnings.catch_warnings():      # "sparse CSR support is in beta": mm with a dense matrix is all we use
            warnings.simplefilter("ignore", UserWarning)
            self.t = torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(col), torch.from_numpy(val),
                                             shape, check_invariants=False)

    @staticmethod
    def from_triples(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> "_CSR":
        """From (row, col, value) triples in any order, duplicates summed."""
        order = np.lexsort((cols, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        if rows.size:
            new = np.ones(rows.size, dtype=bool)
            new[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
            start = np.flatnonzero(new)
            rows, cols, vals = rows[start], cols[start], np.add.reduceat(vals, start)
        crow = np.searchsorted(rows, np.arange(shape[0] + 1)).astype(np.int64)
        return _CSR(crow, cols.astype(np.int64), vals.astype(np.float32), shape)

    def take(self, rows: np.ndarray, col_of: np.ndarray, ncols: int) -> "_CSR":
        """Rows `rows` in that order, columns renumbered through `col_of` (old -> new)."""
        start, count = self.crow[rows], self.crow[rows + 1] - self.crow[rows]
        crow = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(count, out=crow[1:])
        idx = np.repeat(start - crow[:-1], count) + np.arange(crow[-1])
        return _CSR(crow, col_of[self.col[idx]], self.val[idx], (rows.size, ncols))


@dataclass
class Plan:
    """Every distinct node state of a set of graphs, each to be computed once.

    A node's state after a layer is fixed by its aggregated input (layer 0: its row of A X) and then by
    the multiset of (weight, state) of its neighbours (its Weisfeiler-Lehman colour), so a GCN needs each
    distinct state once: `x0` holds the distinct rows of A X, `steps[l]` the sparse aggregation from the
    distinct states after layer l to those after layer l+1, `readout` the global node's row of A over
    the last states (one row per distinct graph state) and `graph` the readout row of each graph.
    NAS-Bench-201, all 8,687 pruned graphs (61,836 real nodes): 162 distinct states after the first layer
    and ~7,000 after the second, so the whole space costs ~6x fewer 600x600 products than a row per node.
    Independent of the weights: built once per set of graphs (`subset` cuts out a batch). With dropout
    (training), a state computed once has one dropout draw (`TrainConfig.dropout_per="state"`)."""

    x0: torch.Tensor
    steps: list
    readout: _CSR | None
    graph: torch.Tensor
    states: list = field(default_factory=list)     # per layer but the last: (G, N+1) state of each node, -1 absent
    graph_states: np.ndarray | None = None          # (G,) readout row of each graph

    @staticmethod
    def build(adj: torch.Tensor, feats: torch.Tensor, layers: int) -> "Plan":
        g, n, _ = adj.shape
        a = adj.numpy()
        if layers == 1:          # the one layer is the last: only the global row, (A X)[0] W
            ax = torch.bmm(adj[:, :1], feats).reshape(g, -1).numpy()
            first, inv = _distinct_rows(np.ascontiguousarray(ax).view(np.int32))
            return Plan(torch.from_numpy(ax[first]), [], None, torch.from_numpy(inv), [], inv)
        real = np.diagonal(a, axis1=1, axis2=2) > 0
        gi, ni = np.nonzero(real)
        ax = torch.bmm(adj, feats).numpy()[gi, ni]
        first, inv = _distinct_rows(np.ascontiguousarray(ax).view(np.int32))
        x0 = torch.from_numpy(ax[first])
        uid = np.full((g, n), -1, dtype=np.int64)
        uid[gi, ni] = inv
        k, steps, states = first.size, [], [uid]
        for _ in range(layers - 2):
            step, inv = _aggregation(a[gi, ni], uid[gi], k)
            steps.append(step)
            uid = np.full((g, n), -1, dtype=np.int64)
            uid[gi, ni] = inv
            states.append(uid)
            k = step.shape[0]
        readout, inv = _aggregation(a[:, 0], uid, k)
        return Plan(x0, steps, readout, torch.from_numpy(inv), states, inv)

    def subset(self, idx: np.ndarray) -> "Plan":
        """The plan of graphs `idx` of this one (a training batch), without planning them again."""
        gs, graph = np.unique(self.graph_states[idx], return_inverse=True)
        graph = torch.from_numpy(graph.reshape(-1))
        if self.readout is None:
            return Plan(self.x0[torch.from_numpy(gs)], [], None, graph)
        used = []
        for st in self.states:
            s = st[idx]
            used.append(np.unique(s[s >= 0]))
        cuts = []
        for rows, cols, m in zip(used[1:] + [gs], used, self.steps + [self.readout]):
            col_of = np.zeros(m.shape[1], dtype=np.int64)
            col_of[cols] = np.arange(cols.size)
            cuts.append(m.take(rows, col_of, cols.size))
        return Plan(self.x0[torch.from_numpy(used[0])], cuts[:-1], cuts[-1], graph)


def _aggregation(w: np.ndarray, nb: np.ndarray, k: int) -> tuple[_CSR, np.ndarray]:
    """Rows `w` (R, n) of A over neighbours in states `nb` (R, n; of k states) -> the distinct rows as a
    sparse (distinct, k) matrix, and the index of each row's distinct row."""
    nb = np.where(w > 0, nb, -1)
    order = np.argsort(nb, axis=1, kind="stable")       # canonical: neighbours sorted by state
    nb, w = np.take_along_axis(nb, order, 1), np.take_along_axis(w, order, 1)
    _, wid = np.unique(w, return_inverse=True)          # weights -> small ids
    first, inv = _distinct_rows(np.concatenate([nb, wid.reshape(w.shape)], axis=1))
    rr, cc = np.nonzero(w[first] > 0)
    return _CSR.from_triples(rr, nb[first][rr, cc], w[first][rr, cc], (first.size, k)), inv


def _distinct_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct row of the integer matrix `key`, index of each row's distinct row).
    Columns are renumbered 0..m-1 and packed into one int64 as long as the product of their ranges fits
    (np.unique(axis=0) sorts rows as bytes: ten times slower)."""
    ids, span = np.zeros(key.shape[0], dtype=np.int64), 1
    for c in range(key.shape[1]):
        col = key[:, c]
        lo, hi = int(col.min(initial=0)), int(col.max(initial=0))
        if hi - lo < 4096:
            col, m = col - lo, hi - lo + 1
        else:
            vals, col = np.unique(col, return_inverse=True)
            col, m = col.reshape(-1), vals.size
        if span * m >= 2**62:
            _, ids = np.unique(ids, return_inverse=True)
            ids, span = ids.reshape(-1), int(ids.max(initial=0)) + 1
        ids, span = ids * m + col, span * m
    _, first, inv = np.unique(ids, return_index=True, return_inverse=True)
    return first, inv.reshape(-1)


class GCN(nn.Module):
    """Shared GCN body with a regression head (`binary=False`) or the binary relation head."""

    def __init__(self, num_features: int = NUM_FEATURES, num_layers: int = 4, hidden: int = 600,
                 dropout: float = 0.2, binary: bool = False):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(num_features if i == 0 else hidden, hidden) for i in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(num_layers))
        self.p = float(dropout)
        self.binary = binary
        self.hidden = hidden
        self.head = nn.Linear(2 * hidden, 2) if binary else nn.Linear(hidden, 1)
        for lin in list(self.layers) + [self.head]:   # eagle's "thomas" init: U(-1/sqrt(fan_out), +)
            bound = 1.0 / math.sqrt(lin.out_features)
            nn.init.uniform_(lin.weight, -bound, bound)
            nn.init.uniform_(lin.bias, -bound, bound)

    def _act(self, i: int, z: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norms[i](z))
        if self.training and self.p > 0:
            h = h * dropout_mask(h.shape, self.p, h.dtype)
        return h

    def embed(self, adj: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """(B, N+1, N+1), (B, N+1, F) -> global-node embedding (B, hidden). Training with dropout: one
        row per real node (`embed_packed`, a dropout draw per node as eagle); otherwise each distinct
        node state once (`embed_plan`), the same numbers up to float rounding."""
        if self.training and self.p > 0:
            return self.embed_packed(adj, feats)
        return self.embed_plan(Plan.build(adj, feats, len(self.layers)))

    def embed_packed(self, adj: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """H' = Dropout(ReLU(LN(A H W + b))) with the weight products on the real nodes only (packed
        rows; rows of absent nodes are zero and never read), the last layer on the global node only."""
        b, n, _ = adj.shape
        pos = real_nodes(adj)
        last = len(self.layers) - 1
        h = None
        for i, lin in enumerate(self.layers):
            if i == 0:    # narrow input: aggregate first, (A X) W
                z = torch.bmm(adj[:, :1] if i == last else adj, feats)
                z = nn.functional.linear(z if i == last else z.reshape(b * n, -1)[pos], lin.weight, lin.bias)
            elif i == last:   # only the global node's row is read out: aggregate it first, (A H)[0] W
                y = feats.new_zeros((b * n, self.hidden)).index_copy(0, pos, h).view(b, n, self.hidden)
                z = nn.functional.linear(torch.bmm(adj[:, :1], y), lin.weight, lin.bias)
            else:
                y = feats.new_zeros((b * n, self.hidden)).index_copy(0, pos, nn.functional.linear(h, lin.weight))
                z = torch.bmm(adj, y.view(b, n, self.hidden)).reshape(b * n, self.hidden)[pos] + lin.bias
            h = self._act(i, z)
        return h.reshape(b, self.hidden)

    def embed_plan(self, plan: "Plan") -> torch.Tensor:
        """Global-node embeddings of the graphs of `plan`, each distinct node state computed once."""
        last = len(self.layers) - 1
        if last == 0:
            z = nn.functional.linear(plan.x0, self.layers[0].weight, self.layers[0].bias)
            return self._act(0, z)[plan.graph]
        h = self._act(0, nn.functional.linear(plan.x0, self.layers[0].weight, self.layers[0].bias))
        for i, step in enumerate(plan.steps, start=1):   # A (H W) + b on the distinct rows
            h = self._act(i, _spmm(step.t, nn.functional.linear(h, self.layers[i].weight)) + self.layers[i].bias)
        z = nn.functional.linear(_spmm(plan.readout.t, h), self.layers[last].weight, self.layers[last].bias)
        return self._act(last, z)[plan.graph]

    def regress(self, emb: torch.Tensor) -> torch.Tensor:
        return self.head(emb).squeeze(-1)

    def pair_logits(self, emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
        """Logits (|a|, |b|, 2) of "a better" / "b better" for every pair, without building the
        concatenations: the head is linear, so [e_a, e_b] W^T = e_a W_a^T + e_b W_b^T."""
        h = emb_a.shape[-1]
        w, b = self.head.weight, self.head.bias
        return (emb_a @ w[:, :h].T)[:, None, :] + (emb_b @ w[:, h:].T)[None, :, :] + b


@dataclass
class TrainConfig:
    epochs: int = 250
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    patience: int = 35
    batch_size: int = 50
    temperature: float = 1.0       # binary targets: P(a better) = sigmoid((y_a - y_b) / temperature)
    bf16: bool = False             # mixed precision for the training passes (bf16 products, fp32 weights)
    dropout_per: str = "node"      # a dropout draw per "node" (eagle) or per distinct node "state" of a batch


@dataclass
class TrainLog:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1
    epochs_run: int = 0


def _pair_loss(model: GCN, emb: torch.Tensor, y: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy of the relation head against eagle's soft targets softmax(y_a, y_b), over all
    ordered pairs a != b of the batch."""
    logp = torch.log_softmax(model.pair_logits(emb, emb), dim=-1)
    p = torch.sigmoid((y[:, None] - y[None, :]) / temperature)
    ce = -(p * logp[..., 0] + (1 - p) * logp[..., 1])
    return ce[~torch.eye(y.shape[0], dtype=torch.bool)].mean()


def _loss(model: GCN, adj, feats, y, cfg: TrainConfig, emb: torch.Tensor | None = None) -> torch.Tensor:
    emb = model.embed(adj, feats) if emb is None else emb
    if model.binary:
        return _pair_loss(model, emb, y, cfg.temperature)
    return torch.nn.functional.l1_loss(model.regress(emb), y)


def optimizer(model: GCN, cfg: TrainConfig, epochs: int | None = None):
    """AdamW with a cosine schedule over `epochs` (default cfg.epochs), stepped once per epoch."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs or cfg.epochs, 1), eta_min=0.0)


def train(model: GCN, adj: torch.Tensor, feats: torch.Tensor, y: torch.Tensor, val: torch.Tensor | None,
          cfg: TrainConfig, generator: torch.Generator, log: TrainLog | None = None, optim=None) -> TrainLog:
    """Up to cfg.epochs epochs of AdamW + cosine schedule (`optim` = a running (optimizer, schedule) to
    continue, else a fresh one), early stopping on the validation rows `val` (indices into the arrays;
    the others train; binary: the pairs among them). Keeps the weights of the best validation epoch (on
    the training loss when there is no validation set). Regression uses the L1 loss, as eagle."""
    log = log or TrainLog()
    n = y.shape[0]
    is_val = torch.zeros(n, dtype=torch.bool)
    if val is not None and val.numel():
        is_val[val] = True
    tr = torch.nonzero(~is_val).squeeze(1)
    opt, sched = optim if optim is not None else optimizer(model, cfg)
    if model.binary and int(is_val.sum()) < 2:   # a pair needs two validation networks
        is_val[:] = False
    y_val = y[is_val]
    val_plan = Plan.build(adj[is_val], feats[is_val], len(model.layers)) if is_val.any() else None
    plan = Plan.build(adj, feats, len(model.layers)) if cfg.dropout_per == "state" else None
    best, best_state, bad = math.inf, None, 0
    bs = max(2 if model.binary else 1, cfg.batch_size)
    for epoch in range(cfg.epochs):
        model.train()
        perm = tr[torch.randperm(tr.numel(), generator=generator)]
        total, count = 0.0, 0
        for start in range(0, perm.numel(), bs):
            idx = perm[start:start + bs]
            if model.binary and idx.numel() < 2:
                continue
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                if cfg.dropout_per == "state":
                    emb = model.embed_plan(plan.subset(idx.numpy()))
                    loss = _loss(model, None, None, y[idx], cfg, emb=emb)
                else:
                    loss = _loss(model, adj[idx], feats[idx], y[idx], cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        log.train_loss.append(total / max(count, 1))
        model.eval()
        if val_plan is not None:
            with torch.inference_mode():
                v = float(_loss(model, None, None, y_val, cfg, emb=model.embed_plan(val_plan)))
        else:
            v = log.train_loss[-1]
        log.val_loss.append(v)
        log.epochs_run += 1
        sched.step()
        if v < best:
            best, bad, log.best_epoch = v, 0, len(log.val_loss) - 1
            best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                for _ in range(cfg.epochs - epoch - 1):   # a shared schedule stays on time
                    sched.step()
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return log


@torch.inference_mode()
def embed_all(model: GCN, adj: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """Eval-mode embeddings of the graphs (adj, feats), each distinct node state computed once."""
    model.eval()
    if adj.shape[0] == 0:
        return torch.empty((0, model.layers[-1].out_features))
    return model.embed_plan(Plan.build(adj, feats, len(model.layers)))


def embed_codes(model: GCN, codes: np.ndarray, prune: bool = True, norm: str = "row", space=None) -> torch.Tensor:
    """Embeddings of `codes`, each distinct graph (and node state) computed once. When the codes cover
    at least `1/WHOLE_SPACE` of an enumerable space's graphs, the whole space is computed from its
    cached plan (cheaper than planning the subset)."""
    space = _space(space)
    table = graph_table(space, prune, norm)
    if table is not None:
        ids = table.ids[space.index(np.atleast_2d(np.asarray(codes, dtype=np.int64)))]
        uniq = np.unique(ids)
        if uniq.size * WHOLE_SPACE >= table.adj.shape[0]:
            model.eval()
            with torch.inference_mode():
                return model.embed_plan(table.plan(len(model.layers)))[torch.from_numpy(ids)]
    a, x, inverse = distinct_graphs(codes, prune, norm, space)
    return embed_all(model, a, x)[torch.from_numpy(inverse)]


@torch.no_grad()
def win_probability(model: GCN, emb: torch.Tensor, ref: torch.Tensor, batch: int = 4096) -> torch.Tensor:
    """Mean probability that each network beats the reference networks (BRP-NAS ranking score). The
    softmax of two logits is the sigmoid of their difference, and the head is linear, so the difference
    splits into a term per network and one per reference (no (N, R, 2) logits, no 2-way softmax)."""
    h = emb.shape[-1]
    w, b = model.head.weight, model.head.bias
    d_net = emb @ (w[0, :h] - w[1, :h])
    d_ref = ref @ (w[0, h:] - w[1, h:]) + (b[0] - b[1])
    return torch.cat([torch.sigmoid(d_net[s:s + batch, None] + d_ref[None, :]).mean(dim=1)
                      for s in range(0, emb.shape[0], batch)]) if emb.shape[0] else emb.new_zeros(0)
