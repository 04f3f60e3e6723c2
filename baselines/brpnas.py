"""BRP-NAS (Dudziak et al., NeurIPS 2020): GCN predictors, binary relation ranking, iterative data selection.

Follows the released code (SamsungLabs/eagle) and its NAS-Bench-201 configs (4 GCN layers of 600,
LayerNorm, ReLU, dropout 0.2, global-node readout, AdamW 3.5e-4 / 5e-4, cosine schedule, early stopping
with patience 35, up to 250 epochs, binary relation head, 5 rounds of iterative data selection).
Everything is seen through the oracle: the training set costs `train_size` distinct evaluations, latency
samples cost hardware queries. Where this differs from eagle, and why (`BRPNAS.deviations()` lists the
differences of a configuration as "setting: ours vs published" strings, for labels and protocol cards):
- epochs: iterative rounds share the `epochs` in proportion to r, warm-starting the model each round
  with a fresh AdamW + cosine (`schedule="share"`: 17, 33, 50, 67, 83 epochs for 5 rounds). Eagle trains
  50r epochs in round r, 750 in all (`schedule="grow"`): three times the CPU time for no better ranking
  in our runs (cifar10, 900 networks: tau 0.83 either way). `"equal"` gives every round 250/R epochs,
  `"continuous"` runs one optimizer and one cosine through all rounds (faster, tau 0.78);
- batch: the binary head is trained on all ordered pairs inside each batch of `batch_size` networks
  (eagle: batches of 64 // 5 * r pairs in round r), so one GCN pass serves B(B-1) pairs;
- early stopping: a validation split (`val_fraction` of each round's new networks, not trained on) drives
  it from the first epoch, because every evaluation is paid from the same budget (eagle: on the training
  loss, from epoch 21; or 100 extra networks without iterations);
- float32 instead of float64; mean cross-entropy instead of summed KL divergence to the same soft
  targets (same minimiser); pruned nodes left out instead of feature-less rows (see baselines/gcn.py);
  the ranking is the mean win probability against `references` networks (the order of eagle's pairwise
  sort for a linear relation head);
- `dropout_per="state"` (off by default) draws dropout once per distinct node state of a batch instead
  of once per node: a third of the 600x600 products per step, about 2x faster training (figures:
  `bench_baselines.py --part speed --param dropout_per=state`);
- the latency regressor keeps eagle's latency config (lr 4e-4, dropout 0.002, 900 samples) but trains in
  batches of `batch_size` with the cosine schedule instead of batch 1 with plateau decay (CPU time), and
  on the UNPRUNED cell graph (`hw_prune=False`; none/skip ops are nodes of their own): a device runs
  the ops of dead branches too, and pruning loses them (latency tau at 300 samples, pruned -> unpruned:
  fpga 0.58 -> 0.93, pixel3 0.71 -> 0.82, raspi4 0.70 -> 0.83). For accuracy pruning is right
  (cifar10, 100 samples, 3 seeds: tau 0.63 pruned, 0.42 unpruned). Its training passes run in bf16
  mixed precision (`latency_bf16`; fp32 weights, fp32 predictions): same tau (fpga 0.983, pixel3 0.86),
  a quarter less time. The accuracy predictor stays fp32 (`bf16=false`): there it cost ~0.02 tau at
  100 networks in our runs.

Speed: `threads` torch threads per fit (default 1: the harness runs cells in parallel; 2 when a fit owns
both cores). Fit seconds of the accuracy predictor: `python benchmarks/bench_baselines.py --part speed`.

Spaces: any `oracle.space` that provides `graph(codes, prune)`, `num_node_types`, `enumerate()`,
`index(codes)` and `num_choices` (see baselines/gcn.py); NAS-Bench-201's is the cell DAG with ops on nodes.

Iterative data selection (eagle `--iter 5 --sample_best2`, the paper's best): the budget is spent in
`rounds` equal parts; the first part is random, every later one takes the `alpha` share of the predicted
best unevaluated networks and draws the rest at random from the predicted top 1/2^(r-1) (`shrink`;
otherwise from all unevaluated ones).

Search (eagle's latency-limited NAS): candidates are the networks whose PREDICTED latency/energy meet
the limits (the device table with `hw_free`; FLOPs/params are exact), the whole budget is spent on them
by iterative selection, and the answer is the best evaluated network that truly meets the limits
(hardware-checked best first, as eagle filters false positives), else the top predicted candidate.

Hardware regimes: under `free` the latency predictor trains on `latency_train_size` networks (eagle's
900). Under `blind` and `charged` its training set is sized to what the regime allows: all the hardware
measurements but a reserve for checking the answer (a fifth, at most 10), and when measurements are
charged at most half of the budget's worth of them (`HW_SHARE`); the accuracy predictor gets the
evaluations left. Latency and energy are learnt on the same networks (one measurement each).

Fits go through the content-addressed cache of the result store (core.fitcache) when one is active:
each predictor draws from its own random streams seeded by (seed, predictor), so a fit is the same
whether it was computed here or read from the cache, and the oracle is charged for exactly the same
queries either way (a cached fit replays them).
"""
from __future__ import annotations

import io
import math
import sys
import time
import zlib
from contextlib import contextmanager
from dataclasses import asdict

import numpy as np
import torch
from scipy.optimize import isotonic_regression

from baselines import gcn
from baselines.common import check_float, check_int, feasible, hw_metrics, resolve_budget
from core import fitcache
from core.errors import HarnessError
from core.protocols import MethodBase, SearchResult

MODES = ("binary", "regression")
SCHEDULES = ("grow", "share", "equal", "continuous")
HW_METRICS = ("latency", "energy")
DROPOUT_PER = ("node", "state")
HW_SHARE = 0.5       # charged regime: at most this share of the budget buys latency samples
# The settings of eagle's NAS-Bench-201 configs (the paper's method); a differing parameter is a deviation.
PUBLISHED = {"rounds": 5, "alpha": 0.5, "epochs": 250, "patience": 35, "mode": "binary", "hw_free": False,
             "latency_train_size": 900, "batch_size": 50, "lr": 3.5e-4, "weight_decay": 5e-4, "dropout": 0.2,
             "hidden": 600, "layers": 4, "latency_lr": 4e-4, "latency_dropout": 0.002, "shrink": True,
             "prune": True, "schedule": "grow", "bf16": False, "latency_bf16": False}
PUBLISHED_NOTE = {"schedule": "grow: 50r epochs in round r, 750 in all", "epochs": "250",
                  "latency_bf16": "false (fp32)", "hw_free": "false (predicted latency)"}


class _Regressor:
    """A fitted GCN regressor with its space, graph encoding and target scaling."""

    def __init__(self, model: gcn.GCN, mean: float, std: float, log: gcn.TrainLog, prune: bool, norm: str,
                 space=None):
        self.model, self.mean, self.std, self.log, self.prune, self.norm = model, mean, std, log, prune, norm
        self.space = space

    def __call__(self, codes) -> np.ndarray:
        with torch.no_grad():
            out = self.model.regress(gcn.embed_codes(self.model, codes, self.prune, self.norm, self.space))
        return out.numpy().astype(np.float64) * self.std + self.mean


def _dump(obj: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _load(payload: bytes) -> dict | None:
    try:
        return torch.load(io.BytesIO(payload), weights_only=True)
    except Exception:  # noqa: BLE001 - an unreadable cache entry is fitted again
        return None


def _log_of(d: dict) -> gcn.TrainLog:
    return gcn.TrainLog(**{k: d[k] for k in ("train_loss", "val_loss", "best_epoch", "epochs_run") if k in d})


class BRPNAS(MethodBase):
    """Trains on the oracle's budget of networks (100 when it has none)."""

    name = "brpnas"
    relative_cost = 100.0     # GCN training: minutes a cell where a search takes a second

    def __init__(self, seed: int = 0, rounds: int = 5, alpha: float = 0.5,
                 epochs: int = 250, patience: int = 35, mode: str = "binary", hw_free: bool = False,
                 latency_train_size: int = 900, batch_size: int = 50, lr: float = 3.5e-4,
                 weight_decay: float = 5e-4, dropout: float = 0.2, hidden: int = 600, layers: int = 4,
                 val_fraction: float = 0.1, references: int = 256, temperature: float = 1.0,
                 latency_lr: float = 4e-4, latency_dropout: float = 0.002, energy: bool = True,
                 shrink: bool = True, prune: bool = True, hw_prune: bool = False, adjacency: str = "row",
                 schedule: str = "share", bf16: bool = False, latency_bf16: bool = True,
                 threads: int | None = None, dropout_per: str = "node"):
        if mode not in MODES:
            raise HarnessError(f"brpnas: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if adjacency not in gcn.NORMS:
            raise HarnessError(f"brpnas: adjacency must be one of {', '.join(gcn.NORMS)}, got {adjacency!r}")
        self.seed = check_int("seed", seed)
        self.rounds = check_int("rounds", rounds, 1)
        self.alpha = check_float("alpha", alpha, 0.0, 1.0)
        self.epochs = check_int("epochs", epochs, 1)
        self.patience = check_int("patience", patience, 1)
        self.mode, self.hw_free = mode, bool(hw_free)
        self.latency_train_size = check_int("latency_train_size", latency_train_size, 0)
        self.batch_size = check_int("batch_size", batch_size, 2)
        self.lr, self.weight_decay = check_float("lr", lr, 0.0), check_float("weight_decay", weight_decay, 0.0)
        self.dropout = check_float("dropout", dropout, 0.0, 0.99)
        self.hidden, self.layers = check_int("hidden", hidden, 1), check_int("layers", layers, 1)
        self.val_fraction = check_float("val_fraction", val_fraction, 0.0, 0.5)
        self.references = check_int("references", references, 1)
        self.temperature = check_float("temperature", temperature, 1e-6)
        self.latency_lr = check_float("latency_lr", latency_lr, 0.0)
        self.latency_dropout = check_float("latency_dropout", latency_dropout, 0.0, 0.99)
        self.energy, self.shrink, self.prune, self.adjacency = bool(energy), bool(shrink), bool(prune), adjacency
        self.hw_prune, self.bf16, self.latency_bf16 = bool(hw_prune), bool(bf16), bool(latency_bf16)
        if schedule not in SCHEDULES:
            raise HarnessError(f"brpnas: schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        self.schedule = schedule
        if dropout_per not in DROPOUT_PER:
            raise HarnessError(f"brpnas: dropout_per must be one of {', '.join(DROPOUT_PER)}, got {dropout_per!r}")
        self.dropout_per = dropout_per
        self.threads = check_int("threads", threads if threads is not None else 1, 1)
        self.model: gcn.GCN | None = None
        self.hw: dict[str, _Regressor] = {}
        self.train_rows = np.empty(0, dtype=np.int64)
        self.train_acc = np.empty(0)
        self.logs: list[gcn.TrainLog] = []
        self.seconds: dict[str, float] = {}   # fit time of each predictor
        self._codes = None
        self._space = None

    def _round_epochs(self, r: int, rounds: int) -> int:
        """Epochs of round r (1-based) of `rounds`."""
        if self.schedule == "grow":      # eagle: round r trains r/R of the epochs (750 in all for 250 x 5)
            return math.ceil(self.epochs * r / rounds)
        if self.schedule == "share":     # the epochs are shared by the rounds in proportion r
            return max(1, round(self.epochs * r / (rounds * (rounds + 1) / 2)))
        return max(1, self.epochs // rounds)   # each round an equal share ("continuous": one cosine over all)

    def implementation_deviations(self) -> list[str]:
        """How this implementation differs from eagle's published NAS-Bench-201 binary relation predictor
        (SamsungLabs/eagle configs/predictors/acc_gcn_nasbench201_bin.yaml with --iter 5 --sample_best2,
        250 epochs, batch 64), one "what: ours vs published" string each; parameters are `deviations()`'s."""
        out = []
        if self.adjacency != "row":
            out.append(f"adjacency: {self.adjacency} vs row-normalised")
        out.append(f"batch: {self.batch_size} networks and all their {self.batch_size * (self.batch_size - 1)} "
                   f"ordered pairs per step vs 12r pairs in round r (64 // 5 per round)")
        if self.val_fraction > 0:
            out.append(f"early stopping: on a {self.val_fraction:.0%} validation split of each round's networks "
                       f"(paid, not trained on), from epoch 1 vs on the training loss, from epoch 21")
        else:
            out.append("early stopping: from epoch 1 vs from epoch 21 (both on the training loss)")
        out.append("precision: " + ("bf16 products" if self.bf16 else "float32") + " vs float64")
        out.append("loss: mean cross-entropy vs summed KL divergence to the same soft targets (same minimiser)")
        if self.dropout_per == "state":
            out.append("dropout: one draw per distinct node state in a batch vs one per node")
        out.append("pruned nodes: left out vs feature-less rows that the global node still reads")
        out.append(f"ranking: mean win probability against {self.references} reference networks vs sorting "
                   f"by pairwise comparison (the same order for the linear relation head)")
        if self.latency_train_size:
            out.append(f"latency predictor: {'pruned' if self.hw_prune else 'unpruned'} graph, "
                       f"batch {self.batch_size}, cosine schedule"
                       + (", bf16 products" if self.latency_bf16 else "")
                       + " vs pruned graph, batch 1, plateau decay, float64")
        return out

    def deviations(self) -> list[str]:
        """Parameters off eagle's published settings ("name: ours (published: theirs)"), then how the
        implementation itself differs: every line goes on the protocol card, any line marks the label."""
        def text(v):
            return str(v).lower() if isinstance(v, bool) else str(v)

        return [f"{k}: {text(getattr(self, k))} (published: {PUBLISHED_NOTE.get(k, text(published))})"
                for k, published in PUBLISHED.items() if getattr(self, k) != published] \
            + self.implementation_deviations()

    # --- plumbing ----------------------------------------------------------------------------
    @contextmanager
    def _torch_threads(self):
        """Run torch on `threads` threads (default 1) and put the process setting back afterwards.
        On two shared cores one thread per process is the sensible default: the harness runs cells
        (and pytest its workers) in parallel, and two OpenMP threads on a busy machine wait on each
        other at every operation (5-10x slower, measured). Fixed, not adaptive: the last float digits
        (hence, after training, small differences) depend on the thread count, so a seed reproduces a
        result for a given `threads`."""
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def _setup(self, oracle) -> None:
        if not callable(getattr(oracle.space, "graph", None)) or not getattr(oracle.space, "num_node_types", 0):
            raise HarnessError(f"brpnas: its GCN needs the space's graph (graph(codes, prune) and num_node_types), "
                               f"which space {oracle.space.name!r} does not provide")
        self._reseed("setup")
        self._space = oracle.space      # any space with graph, num_node_types, enumerate, num_choices
        self._codes = oracle.search_codes()     # train, rank and answer within the rows a method may query

    def _reseed(self, purpose: str) -> None:
        """Fresh random streams seeded by (seed, purpose): each predictor's fit depends on its own inputs
        only, not on which fits ran before it in this process (the fit cache relies on it)."""
        k = zlib.crc32(purpose.encode())
        torch.manual_seed((self.seed << 32) + k)
        self._gen = torch.Generator().manual_seed((self.seed << 32) + k)
        self._rng = np.random.default_rng([self.seed, k])

    def _cache_parts(self, what: str, **parts) -> dict:
        return {"fit": f"brpnas/{what}", "params": self.get_params(), "torch": torch.__version__,
                "code": fitcache.source_digest(gcn, sys.modules[__name__]), **parts}

    def _n_train(self, oracle, reserve: int = 0) -> int:
        """The oracle's remaining budget (less what `reserve` hardware checks will cost), else 100."""
        n = resolve_budget(oracle)
        if oracle.hw_cost and oracle.remaining is not None:
            n = max(0, math.floor(oracle.budget - oracle.spent - reserve * oracle.hw_cost + 1e-9))
        if n < 2:
            raise HarnessError(f"brpnas needs at least 2 evaluations to train, got a budget of {n}")
        return n

    @staticmethod
    def _reserve(oracle) -> int:
        """Hardware checks kept for the answer under a limited regime: a fifth, at least 1, at most 10."""
        allowed = oracle.hw_allowance()
        return 0 if allowed is None else max(1, min(10, allowed // 5))

    def _latency_size(self, oracle, reserve: int = 0) -> int:
        """Networks the latency predictor trains on: `latency_train_size`, or what the regime allows."""
        n = min(self.latency_train_size, self._codes.shape[0])
        allowed = oracle.hw_allowance()
        if allowed is None:
            return n
        if oracle.hw_cost:
            allowed = math.floor(HW_SHARE * allowed)
        return max(0, min(n, allowed - reserve))

    def _net(self, binary: bool, dropout: float) -> gcn.GCN:
        return gcn.GCN(num_features=gcn.num_features(self._space), hidden=self.hidden, num_layers=self.layers,
                       dropout=dropout, binary=binary)

    def _graphs(self, rows):
        """Accuracy graphs (pruned: equivalent cells share a graph)."""
        return gcn.graphs(self._codes[rows], self.prune, self.adjacency, self._space)

    def _split(self, k: int) -> int:
        return int(round(self.val_fraction * k)) if k >= 10 else 0

    # --- hardware predictors -----------------------------------------------------------------
    def fit_hardware(self, oracle, metric: str, n: int | None = None) -> _Regressor:
        """GCN regressor of a device metric from `n` random networks (hardware queries; default
        `latency_train_size`). Latency and energy are learnt on the same networks."""
        n = min(self.latency_train_size, self._codes.shape[0]) if n is None else n
        if n < 2:
            why = f"the {oracle.regime} hardware regime leaves {n} measurements for it" if oracle.hw_limited \
                else f"latency_train_size is {n}"
            raise HarnessError(f"brpnas: the {metric} predictor needs at least 2 measured networks; {why}")
        self._reseed("hardware-rows")
        rows = self._rng.choice(self._codes.shape[0], size=n, replace=False)
        y = oracle.hardware(metric, self._codes[rows])
        measured = np.isfinite(y)       # live/user profiles: NaN = not measured
        rows, y, n = rows[measured], y[measured], int(measured.sum())
        if n < 2:
            raise HarnessError(f"brpnas: only {n} of the sampled networks have {metric} measured on this device")
        parts = self._cache_parts("hardware", metric=metric, seed=self.seed, data=fitcache.digest(rows, y))
        self.hw[metric] = fitcache.fetch(parts, lambda: self._train_hardware(metric, rows, y),
                                         self._dump_regressor, self._load_regressor)
        return self.hw[metric]

    @staticmethod
    def _dump_regressor(reg: _Regressor) -> bytes:
        return _dump({"state": reg.model.state_dict(), "mean": reg.mean, "std": reg.std, "log": asdict(reg.log)})

    def _load_regressor(self, payload: bytes) -> _Regressor | None:
        d = _load(payload)
        if d is None:
            return None
        model = self._net(False, self.latency_dropout)
        model.load_state_dict(d["state"])
        model.eval()
        return _Regressor(model, float(d["mean"]), float(d["std"]), _log_of(d["log"]), self.hw_prune, self.adjacency,
                          self._space)

    def _train_hardware(self, metric: str, rows: np.ndarray, y: np.ndarray) -> _Regressor:
        self._reseed(f"hardware-{metric}")
        n = rows.size
        mean, std = float(y.mean()), float(y.std()) or 1.0
        adj, feats = gcn.graphs(self._codes[rows], self.hw_prune, self.adjacency, self._space)
        k_val = self._split(n)
        val = torch.from_numpy(self._rng.choice(n, size=k_val, replace=False)) if k_val else None
        model = self._net(False, self.latency_dropout)
        cfg = gcn.TrainConfig(epochs=self.epochs, lr=self.latency_lr, weight_decay=self.weight_decay,
                              patience=self.patience, batch_size=self.batch_size, bf16=self.latency_bf16)
        log = gcn.train(model, adj, feats, torch.from_numpy((y - mean) / std).float(), val, cfg, self._gen)
        return _Regressor(model, mean, std, log, self.hw_prune, self.adjacency, self._space)

    # --- accuracy predictor ------------------------------------------------------------------
    def scores(self, codes) -> np.ndarray:
        """Raw ranking score: mean win probability against the reference set (binary) or the
        regressed accuracy. With eagle's linear relation head the win probability against any one
        reference is monotone in one number per network, so the ranking does not depend on the set."""
        if self.model is None:
            raise HarnessError("brpnas: call fit() before predict()")
        emb = gcn.embed_codes(self.model, codes, self.prune, self.adjacency, self._space)
        if self.mode == "binary":
            ref = gcn.embed_codes(self.model, self._codes[self._ref_rows], self.prune, self.adjacency, self._space)
            return gcn.win_probability(self.model, emb, ref).numpy().astype(np.float64)
        with torch.no_grad():
            return self.model.regress(emb).numpy().astype(np.float64) * self._acc_std + self._acc_mean

    def _select(self, pool: np.ndarray, seen: np.ndarray, m: int, r: int) -> np.ndarray:
        """Round r's new networks: the alpha share of the predicted best, the rest random."""
        fresh = pool[~seen[pool]]
        m = min(m, fresh.size)
        if r == 1 or self.model is None:
            return self._rng.choice(fresh, size=m, replace=False)
        ranked = fresh[np.argsort(-self.scores(self._codes[fresh]), kind="stable")]
        top = int(self.alpha * m)
        rest = ranked[top:]
        if self.shrink:  # eagle sample_best2: random part from the predicted top 1/2^(r-1)
            rest = rest[:max(m - top, ranked.size // 2 ** (r - 1) - top)]
        return np.concatenate([ranked[:top], self._rng.choice(rest, size=m - top, replace=False)])

    def fit_accuracy(self, oracle, n: int, pool: np.ndarray | None = None) -> None:
        """Spend `n` evaluations on networks from `pool` (rows; default all) by iterative data selection.

        Cached by (parameters, seed, n, pool, content of the accuracy table): a cached fit replays the
        same evaluations, round by round, through the oracle."""
        pool = np.arange(self._codes.shape[0]) if pool is None else np.asarray(pool, dtype=np.int64)
        n = min(n, pool.size)
        if n < 2:
            raise HarnessError(f"brpnas: only {pool.size} candidate networks to train on (need 2)")
        parts = self._cache_parts("accuracy", seed=self.seed, n=n, pool=fitcache.digest(pool),
                                  table=oracle.fingerprint("accuracy"))
        rounds_seen: list[np.ndarray] = []

        def fit():
            self._fit_accuracy(oracle, n, pool, rounds_seen)
            return self

        def dump(_):
            return _dump({"state": self.model.state_dict(), "rounds": [r.tolist() for r in rounds_seen],
                          "ref_rows": self._ref_rows.tolist(), "logs": [asdict(g) for g in self.logs],
                          "acc_mean": getattr(self, "_acc_mean", 0.0), "acc_std": getattr(self, "_acc_std", 1.0)})

        def load(payload):
            d = _load(payload)
            if d is None:
                return None
            accs = [oracle.accuracy(self._codes[np.asarray(r, dtype=np.int64)]) for r in d["rounds"]]  # replayed
            self.model = self._net(self.mode == "binary", self.dropout)
            self.model.load_state_dict(d["state"])
            self.model.eval()
            self._ref_rows = np.asarray(d["ref_rows"], dtype=np.int64)
            self.train_rows = np.concatenate([np.asarray(r, dtype=np.int64) for r in d["rounds"]])
            self.train_acc = np.concatenate(accs)
            self.logs = [_log_of(g) for g in d["logs"]]
            self._acc_mean, self._acc_std = float(d["acc_mean"]), float(d["acc_std"])
            return self

        fitcache.fetch(parts, fit, dump, load)

    def _fit_accuracy(self, oracle, n: int, pool: np.ndarray, rounds_seen: list) -> None:
        self._reseed("accuracy")
        self.logs = []
        rounds = min(self.rounds, n // 2)
        sizes = [n // rounds] * rounds
        sizes[-1] += n - sum(sizes)
        self._ref_rows = self._rng.choice(self._codes.shape[0], size=min(self.references, self._codes.shape[0]),
                                          replace=False)
        self.model = None
        seen = np.zeros(self._codes.shape[0], dtype=bool)
        rows, accs, is_val = [], [], []
        for r, m in enumerate(sizes, start=1):
            new = self._select(pool, seen, m, r)
            seen[new] = True
            rows.append(new)
            rounds_seen.append(new)
            accs.append(oracle.accuracy(self._codes[new]))
            flag = np.zeros(new.size, dtype=bool)
            k_val = self._split(n) * new.size // n
            flag[self._rng.choice(new.size, size=k_val, replace=False)] = True
            is_val.append(flag)
            self.train_rows, self.train_acc = np.concatenate(rows), np.concatenate(accs)
            val = np.flatnonzero(np.concatenate(is_val))
            if self.model is None:
                self.model = self._net(self.mode == "binary", self.dropout)
            self._train_round(r, rounds, val)

    def _train_round(self, r: int, rounds: int, val: np.ndarray) -> None:
        y = self.train_acc
        if self.mode == "regression":
            self._acc_mean, self._acc_std = float(y.mean()), float(y.std()) or 1.0
            target = (y - self._acc_mean) / self._acc_std
        else:
            target = y
        adj, feats = self._graphs(self.train_rows)
        optim = None
        epochs = self._round_epochs(r, rounds)
        cfg = gcn.TrainConfig(epochs=epochs, lr=self.lr, weight_decay=self.weight_decay,
                              patience=self.patience, temperature=self.temperature,
                              batch_size=self.batch_size, bf16=self.bf16, dropout_per=self.dropout_per)
        if self.schedule == "continuous":  # one optimizer and one cosine over all rounds
            if r == 1:
                self._optim = gcn.optimizer(self.model, cfg, epochs * rounds)
            optim = self._optim
        log = gcn.train(self.model, adj, feats, torch.from_numpy(target).float(),
                        torch.from_numpy(val) if val.size else None, cfg, self._gen, optim=optim)
        self.logs.append(log)

    def _best_feasible(self, oracle, limits: dict) -> tuple[int | None, int]:
        """The best evaluated network that truly meets the limits (index into the training set), checking
        them best first while the hardware regime allows; and how many were checked."""
        order = np.argsort(-self.train_acc, kind="stable")
        hw = bool(hw_metrics(limits))
        checked = 0
        for k in order:
            code = self._codes[self.train_rows[k]][None]
            if hw and not oracle.hw_measured(code)[0] and oracle.hw_allowance() == 0:
                continue     # cannot be checked any more; one measured earlier still can
            checked += 1
            if feasible(oracle, code, limits)[0]:
                return int(k), checked
        return None, checked

    def _calibrate(self, s: np.ndarray) -> np.ndarray:
        """Binary scores -> accuracy scale (for MSE/MAE): isotonic fit of the observed accuracies on the
        training networks' scores, plus a tiny slope so the ranking stays exactly that of the scores."""
        ts = self.scores(self._codes[self.train_rows])
        order = np.argsort(ts, kind="stable")
        fitted = isotonic_regression(self.train_acc[order]).x
        return np.interp(s, ts[order], fitted) + 1e-4 * s

    # --- the method interface ----------------------------------------------------------------
    def fit(self, oracle) -> "BRPNAS":
        with self._torch_threads():
            return self._fit(oracle)

    def predict(self, codes) -> dict[str, np.ndarray]:
        with self._torch_threads():
            return self._predict(codes)

    def search(self, problem, oracle) -> SearchResult:
        with self._torch_threads():
            return self._search(problem, oracle)

    def _fit(self, oracle) -> "BRPNAS":
        self._setup(oracle)
        self.hw, self.seconds = {}, {}
        if self.latency_train_size:
            n_hw = self._latency_size(oracle)
            for metric in HW_METRICS:
                if (metric == "latency" or self.energy) and oracle.has(metric):
                    t0 = time.perf_counter()
                    self.fit_hardware(oracle, metric, n_hw)
                    self.seconds[metric] = time.perf_counter() - t0
        if oracle.has("accuracy"):      # hardware-only spaces (FBNet, OFA): the latency/energy GCNs alone
            n = self._n_train(oracle)
            t0 = time.perf_counter()
            self.fit_accuracy(oracle, n)
            self.seconds["accuracy"] = time.perf_counter() - t0
        elif not self.hw:
            raise HarnessError(f"brpnas: {oracle.space.name}/{oracle.dataset} has no accuracy and device "
                               f"{oracle.device!r} no hardware metric (or latency_train_size is 0): nothing to learn")
        return self

    def _predict(self, codes) -> dict[str, np.ndarray]:
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        out = {}
        if self.model is not None or not self.hw:
            s = self.scores(codes)
            out["accuracy"] = self._calibrate(s) if self.mode == "binary" else s
        for metric, reg in self.hw.items():
            out[metric] = reg(codes)
        return out

    def _search(self, problem, oracle) -> SearchResult:
        self._setup(oracle)
        limits = problem.limits
        codes = self._codes
        self.hw = {}
        hw = bool(hw_metrics(limits))
        reserve = self._reserve(oracle) if hw else 0
        n_hw = 0
        if self.hw_free:
            if oracle.hw_limited and hw:
                raise HarnessError(f"brpnas: hw_free=true reads the device for every network; the {oracle.regime} "
                                   f"hardware regime does not allow it (use the free regime or hw_free=false)")
            mask = feasible(oracle, codes, limits)
        else:
            mask = np.ones(codes.shape[0], dtype=bool)
            n_hw = self._latency_size(oracle, reserve)
            for metric, limit in limits.items():
                if metric in HW_METRICS:
                    if self.latency_train_size < 2:
                        raise HarnessError(f"brpnas: a {metric} limit needs latency_train_size >= 2 or hw_free=true")
                    mask &= self.fit_hardware(oracle, metric, n_hw)(codes) <= limit
                else:
                    mask &= (oracle.flops(codes) if metric == "flops" else oracle.params(codes)) <= limit
        n = self._n_train(oracle, reserve)
        pool = np.flatnonzero(mask)
        extra = {"candidates": int(pool.size), "train_size": n, "mode": self.mode, "hw_free": self.hw_free,
                 "latency_train_size": n_hw if self.hw else 0}
        if pool.size < 2:
            return SearchResult(None, {}, {**extra, "reason": "fewer than 2 networks are predicted to meet the limits"})
        self.fit_accuracy(oracle, n, pool)
        k, checked = self._best_feasible(oracle, limits)   # hardware check of the evaluated ones, best first
        extra["checked"] = checked
        if k is not None:
            row, acc, how = int(self.train_rows[k]), float(self.train_acc[k]), "best evaluated"
            oracle.incumbent(codes[row])
        else:
            s = self.scores(codes[pool])
            row, how = int(pool[np.argmax(s)]), "top predicted"
            acc = float(self._calibrate(s[np.argmax(s):np.argmax(s) + 1])[0]) if self.mode == "binary" else float(s.max())
        predicted = {"accuracy": acc}
        for metric, reg in self.hw.items():
            predicted[metric] = float(reg(codes[row:row + 1])[0])
        return SearchResult(codes[row].copy(), predicted, {**extra, "choice": how})
