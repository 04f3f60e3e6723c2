"""The GCN predictor of BRP-NAS (Dudziak et al., NeurIPS 2020) for the NAS-Bench-201 cell, in torch on CPU.

Graph (as in SamsungLabs/eagle): operations are nodes. 8 cell nodes (input, the six edge-ops in code
order, output) plus a global node 0 that reads every node; its embedding after the last layer is the
graph embedding. With `prune` (eagle; right for accuracy) `none` ops are removed, `skip_connect` ops
are contracted into direct edges, and nodes off every input->output path are dropped (keeping the
matrix size), so equivalent cells share a graph; without it every op is a node (right for latency).
Adjacency is dense with self-loops and row-normalised (D^-1 (A + I)), features are one-hot types.
Dropped nodes are left out entirely (eagle keeps them as feature-less rows whose only effect is on the
global node, a constant times their count); the graph already says what they said, and skipping them
saves a third of the work.

Layers: H' = Dropout(ReLU(LayerNorm(A H W + b))). Heads: a linear regressor (accuracy or latency), or
the binary relation head: a linear 2-way classifier on the concatenated embeddings of two networks.
Speed (CPU): the 600x600 products run only on the rows of real nodes (packed), the aggregation is a
dense batched 9x9 product, and the last layer computes only the global node, the one row read out.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from core.codes import lexicographic_rank, product_codes
from spaces import cell_graph
from spaces.nb201 import EDGES, NUM_NODES, NUM_OPS

NUM_GRAPH_NODES = NUM_NODES + 3        # global, input, 6 ops, output
INPUT, OUTPUT, GLOBAL = NUM_OPS, NUM_OPS + 1, NUM_OPS + 2
NUM_FEATURES = NUM_OPS + 3             # one-hot: 5 ops, input, output, global
NONE_OP, SKIP_OP = 0, 1
NORMS = ("row", "none")


def cell_graphs(codes: np.ndarray, prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised: codes (K, 6) -> (adjacency (K, 8, 8) bool without self-loops, node types (K, 8), -1 = dropped)."""
    return cell_graph.cell_graphs(codes, EDGES, NUM_OPS, NONE_OP, SKIP_OP, prune)


def encode(codes: np.ndarray, prune: bool = True, norm: str = "row") -> tuple[np.ndarray, np.ndarray]:
    """codes -> (adjacency (K, 9, 9) float32, features (K, 9, 8) float32) with the global node first."""
    if norm not in NORMS:
        raise ValueError(f"adjacency norm {norm!r} not in {NORMS}")
    m, types = cell_graphs(codes, prune)
    k = m.shape[0]
    real = np.ones((k, NUM_GRAPH_NODES), dtype=bool)
    real[:, 1:] = types >= 0
    real[:, 1], real[:, -1] = True, True   # input and output stay, even in an empty cell
    a = np.zeros((k, NUM_GRAPH_NODES, NUM_GRAPH_NODES), dtype=np.float32)
    a[:, 1:, 1:] = m
    a[:, 0, 1:] = real[:, 1:]
    diag = np.arange(NUM_GRAPH_NODES)
    a[:, diag, diag] = real
    if norm == "row":
        a /= np.maximum(a.sum(axis=2, keepdims=True), 1.0)
    x = np.zeros((k, NUM_GRAPH_NODES, NUM_FEATURES), dtype=np.float32)
    x[:, 0, GLOBAL] = 1.0
    rows, cols = np.nonzero(types >= 0)
    x[rows, cols + 1, types[rows, cols]] = 1.0
    return a, x


def real_nodes(adj: torch.Tensor) -> torch.Tensor:
    """Flat indices (into B*9 rows) of the nodes a batch really has: those with a self-loop."""
    return torch.nonzero(torch.diagonal(adj, dim1=1, dim2=2).reshape(-1) > 0).squeeze(1)


@lru_cache(maxsize=8)
def _all_graphs(prune: bool, norm: str) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Distinct graphs of all 15,625 cells (8,687 after pruning) and, per lexicographic rank, its graph."""
    a, x = encode(product_codes((NUM_OPS,) * NUM_NODES), prune, norm)
    key = np.concatenate([a.reshape(a.shape[0], -1), x.reshape(x.shape[0], -1)], axis=1)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return torch.from_numpy(a[first]), torch.from_numpy(x[first]), inverse.reshape(-1)


def graph_ids(codes: np.ndarray, prune: bool = True, norm: str = "row") -> np.ndarray:
    """Id of each code's graph (equal ids = identical graphs, hence identical predictions)."""
    return _all_graphs(prune, norm)[2][lexicographic_rank(codes, (NUM_OPS,) * NUM_NODES)]


def graphs(codes: np.ndarray, prune: bool = True, norm: str = "row") -> tuple[torch.Tensor, torch.Tensor]:
    """Tensors for `codes`, gathered from a per-process table of all cells (built once)."""
    a, x, _ = _all_graphs(prune, norm)
    idx = torch.from_numpy(graph_ids(codes, prune, norm))
    return a[idx], x[idx]


class GCN(nn.Module):
    """Shared GCN body with a regression head (`binary=False`) or the binary relation head."""

    def __init__(self, num_features: int = NUM_FEATURES, num_layers: int = 4, hidden: int = 600,
                 dropout: float = 0.2, binary: bool = False):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(num_features if i == 0 else hidden, hidden) for i in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)
        self.binary = binary
        self.hidden = hidden
        self.head = nn.Linear(2 * hidden, 2) if binary else nn.Linear(hidden, 1)
        for lin in list(self.layers) + [self.head]:   # eagle's "thomas" init: U(-1/sqrt(fan_out), +)
            bound = 1.0 / math.sqrt(lin.out_features)
            nn.init.uniform_(lin.weight, -bound, bound)
            nn.init.uniform_(lin.bias, -bound, bound)

    def embed(self, adj: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """(B, 9, 9), (B, 9, F) -> global-node embedding (B, hidden). Computes A H W + b with the
        weight product on real nodes only (rows of dropped nodes are zero and never read)."""
        b, n, _ = adj.shape
        pos = real_nodes(adj)
        last = len(self.layers) - 1
        h = None
        for i, (lin, norm) in enumerate(zip(self.layers, self.norms)):
            if i == 0:    # narrow input: aggregate first, (A X) W
                z = torch.bmm(adj[:, :1] if i == last else adj, feats)
                z = nn.functional.linear(z if i == last else z.reshape(b * n, -1)[pos], lin.weight, lin.bias)
            elif i == last:   # only the global node's row is read out: aggregate it first, (A H)[0] W
                y = feats.new_zeros((b * n, self.hidden)).index_copy(0, pos, h).view(b, n, self.hidden)
                z = nn.functional.linear(torch.bmm(adj[:, :1], y), lin.weight, lin.bias)
            else:
                y = feats.new_zeros((b * n, self.hidden)).index_copy(0, pos, nn.functional.linear(h, lin.weight))
                z = torch.bmm(adj, y.view(b, n, self.hidden)).reshape(b * n, self.hidden)[pos] + lin.bias
            h = self.dropout(torch.relu(norm(z)))
        return h.reshape(b, self.hidden)

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


def _loss(model: GCN, adj, feats, y, cfg: TrainConfig) -> torch.Tensor:
    emb = model.embed(adj, feats)
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
                loss = _loss(model, adj[idx], feats[idx], y[idx], cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        log.train_loss.append(total / max(count, 1))
        model.eval()
        with torch.no_grad():
            if is_val.any():
                v = float(_loss(model, adj[is_val], feats[is_val], y[is_val], cfg))
            else:
                v = log.train_loss[-1]
        log.val_loss.append(v)
        log.epochs_run += 1
        sched.step()
        if v < best:
            best, bad, log.best_epoch = v, 0, len(log.val_loss) - 1
            best_state = copy.deepcopy(model.state_dict())
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


@torch.no_grad()
def embed_all(model: GCN, adj: torch.Tensor, feats: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    model.eval()
    if adj.shape[0] == 0:
        return torch.empty((0, model.layers[-1].out_features))
    return torch.cat([model.embed(adj[s:s + batch], feats[s:s + batch]) for s in range(0, adj.shape[0], batch)])


def embed_codes(model: GCN, codes: np.ndarray, prune: bool = True, norm: str = "row") -> torch.Tensor:
    """Embeddings of `codes`, each distinct graph computed once."""
    ids = graph_ids(codes, prune, norm)
    uniq, inverse = np.unique(ids, return_inverse=True)
    a, x, _ = _all_graphs(prune, norm)
    idx = torch.from_numpy(uniq)
    return embed_all(model, a[idx], x[idx])[torch.from_numpy(inverse.reshape(-1))]


@torch.no_grad()
def win_probability(model: GCN, emb: torch.Tensor, ref: torch.Tensor, batch: int = 4096) -> torch.Tensor:
    """Mean probability that each network beats the reference networks (BRP-NAS ranking score)."""
    out = []
    for s in range(0, emb.shape[0], batch):
        p = torch.softmax(model.pair_logits(emb[s:s + batch], ref), dim=-1)[..., 0]
        out.append(p.mean(dim=1))
    return torch.cat(out)
