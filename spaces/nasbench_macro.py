"""NAS-Bench-Macro (Su et al., CVPR 2021): 8 layers x 3 choices, CIFAR-10, 3 seeds (../shared/nasbench_macro).

Codes are the benchmark's own 8-digit arch strings (layer 0 first): `0` id, `1` ir_3x3_t3 (MobileNetV2 block,
k3, expansion 3), `2` ir_5x5_t6 (k5, expansion 6). Stages [2, 3, 3]: layers 0, 2, 5 have stride 2 and double
the channels (32 -> 64 -> 128 -> 256); there `id` is a 1x1 conv + BN projection. Inside a stage `id` is a pure
skip, and the benchmark trained only the network with its identities moved to the end of the stage
(`canonical`, the repo's get_real_arch): the 6,561 codes describe 3,969 distinct networks, the rows here.
`index` maps any code to the row of the network actually trained.

Variable depth (Eq. 9): the identities inside a stage are skips that must form a suffix of the stage's
non-projection layers, i.e. skip groups (1,), (3, 4), (6, 7) with skip choice 0; exactly the canonical codes
satisfy it (`core.codes.depth_valid`), so MathNAS's ILP picks only networks the benchmark trained.

FLOPs (MACs of every conv and linear layer at 32x32, the repo's count_FLOPs) and params are exactly additive
per layer: `block_costs` derives them from the network's shapes (`layer_costs`, no torch) and the loader
checks them against `flops_macs`/`params_count` of all 6,561 rows.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from core.codes import check_codes, lexicographic_rank, product_codes, random_codes
from core.errors import HarnessError, shown, unknown_name
from core.protocols import BlockCosts, Task
from core.sources import Sources
from spaces.tables import TableRows, chain_graphs, check_index, numeric, read_csv, require_columns

NAME = "nasbench_macro"
FILE = "nasbench_macro.csv"
OPS: tuple[str, ...] = ("id", "ir_3x3_t3", "ir_5x5_t6")   # digit 0, 1, 2 (the repo's candidate_OP)
IR = {1: (3, 3), 2: (5, 6)}                                # choice -> (kernel, expansion) of the MobileNetV2 block
STAGES: tuple[int, ...] = (2, 3, 3)
NUM_LAYERS = sum(STAGES)
NUM_OPS = len(OPS)
NUM_CODES = NUM_OPS ** NUM_LAYERS          # 6,561 arch strings
NUM_ROWS = 3969                            # distinct trained networks
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
INPUT_SHAPE = (3, 32, 32)
NUM_CLASSES = {"cifar10": 10}
FIRST_OF_STAGE: tuple[int, ...] = tuple(int(s) for s in np.cumsum((0,) + STAGES[:-1]))   # (0, 2, 5)
# Eq. 9: inside a stage, identity layers after the projection layer form a suffix.
SKIP_GROUPS: tuple[tuple[int, ...], ...] = tuple(tuple(range(f + 1, f + n)) for f, n in zip(FIRST_OF_STAGE, STAGES))
SKIP_CHOICE: tuple[int | None, ...] = tuple(None if i in FIRST_OF_STAGE else 0 for i in range(NUM_LAYERS))
SEED_COLUMNS = ("test_acc_seed0_pct", "test_acc_seed1_pct", "test_acc_seed2_pct")
COLUMNS = ("arch_index", "arch", "canonical_arch", "ops", "depth") + SEED_COLUMNS + \
    ("test_acc_mean_pct", "test_acc_std_pct", "params_count", "flops_macs")
TASKS: dict[str, Task] = {
    "cifar10": Task("cifar10", "test accuracy", "%", search_split="test", score_split="test", seeds=3,
                    note="CIFAR-10 test top-1, the best over 50 epochs (no validation split), mean of 3 seeds "
                         "(per seed: seed_accuracies)"),
}


# --- codes and arch strings ----------------------------------------------------------------------------------
def parse_arch(arch) -> np.ndarray:
    """8-digit arch string over {0, 1, 2} -> code; a one-line error naming the bad part."""
    if not isinstance(arch, str):
        raise HarnessError(f"NAS-Bench-Macro arch: expected a string of {NUM_LAYERS} digits, got {type(arch).__name__}")
    text = arch.strip()
    if len(text) != NUM_LAYERS:
        raise HarnessError(f"NAS-Bench-Macro arch {shown(arch)}: expected {NUM_LAYERS} digits (one per layer, each "
                           f"0 {OPS[0]}, 1 {OPS[1]} or 2 {OPS[2]}), got {len(text)} characters")
    bad = [(i, c) for i, c in enumerate(text) if c not in "012"]
    if bad:
        i, c = bad[0]
        raise HarnessError(f"NAS-Bench-Macro arch {shown(arch)}: layer {i} is {c!r}; valid: 0 ({OPS[0]}), "
                           f"1 ({OPS[1]}), 2 ({OPS[2]})")
    return np.array([int(c) for c in text], dtype=np.int64)


def format_arch(code) -> str:
    c = check_codes(code, (NUM_OPS,) * NUM_LAYERS, "NAS-Bench-Macro")
    if c.shape[0] != 1:
        raise HarnessError(f"NAS-Bench-Macro: one code expected, got {c.shape[0]}")
    return "".join(str(int(v)) for v in c[0])


def canonical(codes) -> np.ndarray:
    """The network actually trained for each code: inside each stage the identities after the projection
    layer are moved to the end, the other layers keep their order (the repo's get_real_arch)."""
    codes = check_codes(codes, (NUM_OPS,) * NUM_LAYERS, "NAS-Bench-Macro").copy()
    for first, n in zip(FIRST_OF_STAGE, STAGES):
        tail = codes[:, first + 1:first + n]
        order = np.argsort(tail == 0, axis=1, kind="stable")   # non-identities first, in their order
        codes[:, first + 1:first + n] = np.take_along_axis(tail, order, axis=1)
    return codes


# --- exact costs (no torch): the shapes of the network of spaces.macro_model ---------------------------------
def conv_out(size: int, kernel: int, stride: int) -> int:
    """Output side of a conv with padding kernel // 2 (the model's convs)."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def layer_shapes() -> list[tuple[int, int, int, int]]:
    """(c_in, c_out, stride, input side) of each of the 8 searchable layers."""
    out, c, side = [], STEM_CHANNELS, INPUT_SHAPE[1]
    for first, n in zip(FIRST_OF_STAGE, STAGES):
        for i in range(first, first + n):
            stride = 2 if i == first else 1
            c_out = 2 * c if i == first else c
            out.append((c, c_out, stride, side))
            c, side = c_out, conv_out(side, 1, stride)
    return out


def _conv(c_in: int, c_out: int, k: int, side_out: int, groups: int = 1, bn: bool = True) -> tuple[int, int]:
    """(MACs, params) of a bias-free conv (+ BN): MACs = C_out * H_out * W_out * C_in / groups * k * k."""
    return c_out * side_out * side_out * (c_in // groups) * k * k, c_out * (c_in // groups) * k * k + (2 * c_out if bn else 0)


def layer_costs(c_in: int, c_out: int, stride: int, side: int, choice: int) -> tuple[int, int]:
    """(MACs, params) of one layer for one choice: identity (a 1x1 conv + BN projection where the shape changes,
    else nothing) or an inverted residual block (1x1 expand, k x k depthwise with the stride, 1x1 project)."""
    if choice == 0:
        if stride == 1 and c_in == c_out:
            return 0, 0
        return _conv(c_in, c_out, 1, conv_out(side, 1, stride))
    k, t = IR[choice]
    hidden = round(c_in * t)
    side_out = conv_out(side, k, stride)
    parts = (_conv(c_in, hidden, 1, side), _conv(hidden, hidden, k, side_out, groups=hidden),
             _conv(hidden, c_out, 1, side_out))
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


@lru_cache(maxsize=None)
def block_costs(dataset: str = "cifar10") -> BlockCosts:
    """Exact per-layer, per-choice MACs and params, plus the fixed stem, 1x1 head conv and classifier."""
    if dataset not in NUM_CLASSES:
        raise unknown_name("dataset", dataset, NUM_CLASSES)
    shapes = layer_shapes()
    flops = tuple(np.array([layer_costs(*s, j)[0] for j in range(NUM_OPS)], dtype=np.float64) for s in shapes)
    params = tuple(np.array([layer_costs(*s, j)[1] for j in range(NUM_OPS)], dtype=np.float64) for s in shapes)
    for a in flops + params:
        a.setflags(write=False)
    c_last, side_last = shapes[-1][1], conv_out(shapes[-1][3], 1, shapes[-1][2])
    stem = _conv(INPUT_SHAPE[0], STEM_CHANNELS, 3, INPUT_SHAPE[1])
    head = _conv(c_last, HEAD_CHANNELS, 1, side_last)
    k = NUM_CLASSES[dataset]
    fc = (HEAD_CHANNELS * k, HEAD_CHANNELS * k + k)
    return BlockCosts(flops, float(stem[0] + head[0] + fc[0]), params, float(stem[1] + head[1] + fc[1]))


# --- the space -------------------------------------------------------------------------------------------------
class NASBenchMacro(TableRows):
    """NAS-Bench-Macro as a Space: rows = the 3,969 distinct trained networks in lexicographic order of their
    canonical codes; `index` maps any of the 6,561 codes to its network's row."""

    name = NAME
    num_nodes = NUM_LAYERS
    num_choices: tuple[int, ...] = (NUM_OPS,) * NUM_LAYERS
    choice_names: tuple[tuple[str, ...], ...] = (OPS,) * NUM_LAYERS
    skip_from = None
    skip_groups = SKIP_GROUPS
    skip_choice = SKIP_CHOICE
    tasks = TASKS
    num_node_types = NUM_OPS + 2          # graph node types: 0..2 the choices, 3 input, 4 output
    source = ("NAS-Bench-Macro (Su et al., CVPR 2021), xiusu/NAS-Bench-Macro data/nas-bench-macro_cifar10.json at "
              "61a2bfc; ../shared/nasbench_macro")

    def __init__(self, rows: np.ndarray, seeds: np.ndarray, folder: Path | None = None):
        rows = np.asarray(rows, dtype=np.int64)
        if rows.shape != (NUM_ROWS, NUM_LAYERS) or np.any(canonical(rows) != rows):
            raise HarnessError(f"NAS-Bench-Macro rows must be the {NUM_ROWS} canonical codes")
        seeds = np.asarray(seeds, dtype=np.float64)
        if seeds.shape != (len(SEED_COLUMNS), NUM_ROWS):
            raise HarnessError(f"NAS-Bench-Macro seed accuracies must have shape (3, {NUM_ROWS}), got {seeds.shape}")
        self._codes = rows
        self._codes.setflags(write=False)
        self._row_of_lex = np.full(NUM_CODES, -1, dtype=np.int64)
        self._row_of_lex[lexicographic_rank(rows, self.num_choices)] = np.arange(NUM_ROWS)
        all_codes = product_codes(self.num_choices)
        self._row_of_code = self._row_of_lex[lexicographic_rank(canonical(all_codes), self.num_choices)]
        if np.any(self._row_of_code < 0):
            raise HarnessError("NAS-Bench-Macro rows lack some canonical network")
        self._seeds = seeds
        self._seeds.setflags(write=False)
        self._mean = seeds.mean(axis=0)
        self._mean.setflags(write=False)
        self.folder = folder

    def index(self, codes) -> np.ndarray:
        """Row of the network each code describes (identities inside a stage moved to its end)."""
        codes = check_codes(codes, self.num_choices, "NAS-Bench-Macro")
        return self._row_of_code[lexicographic_rank(codes, self.num_choices)]

    encode = staticmethod(parse_arch)      # the benchmark's arch string -> code (one-line error naming the bad part)
    decode = staticmethod(format_arch)     # code -> arch string

    def sample(self, k: int, seed: int) -> np.ndarray:
        """k uniformly random codes of the 6,561 (with replacement, seeded); `index` gives their networks."""
        return random_codes(k, seed, self.num_choices)

    def block_costs(self, dataset: str = "cifar10") -> BlockCosts:
        return block_costs(dataset)

    def _check(self, dataset: str, split: str) -> None:
        if dataset not in TASKS:
            raise HarnessError(f"unknown dataset {shown(dataset)} of space {NAME}; valid: {', '.join(TASKS)}")
        if split != "test":
            raise HarnessError(f"NAS-Bench-Macro {dataset}: no {shown(split)} split (the benchmark reports the "
                               f"test set only)")

    def accuracy(self, dataset: str, split: str = "test") -> np.ndarray:
        """Mean over the 3 seeds of the CIFAR-10 test accuracy (%), per row."""
        self._check(dataset, split)
        return self._mean

    def seed_accuracies(self, dataset: str, split: str = "test") -> np.ndarray:
        """(seeds, rows): each training seed's accuracy (%), for the seed-to-seed noise ceiling of rankings
        (core.metrics.seed_kendall_tau); `accuracy` is their mean."""
        self._check(dataset, split)
        return self._seeds

    # --- live measurement (devices.local) -------------------------------------------------------------
    def torch_model(self, code, dataset: str = "cifar10"):
        """The real torch network of `code` (spaces.macro_model), eval mode."""
        from spaces.macro_model import build_model  # torch is imported only when a network is built

        return build_model(code, dataset)

    def input_shape(self, dataset: str = "cifar10") -> tuple[int, int, int]:
        self._check(dataset, "test")
        return INPUT_SHAPE

    # --- graph (BRP-NAS's GCN) --------------------------------------------------------------------------
    def graph(self, codes, prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """A chain: node 0 input, nodes 1..8 the layers typed by their choice (0 id, 1 ir_3x3_t3, 2 ir_5x5_t6),
        node 9 output (types 3 and 4); adjacency (K, 10, 10) bool, a -> b when a feeds b, no self-loops.
        With `prune` the graph is the trained network's (`canonical`, so codes of one network share it) with
        its identities inside a stage (pure skips) contracted: their node is absent (type -1) and its
        predecessor feeds its successor; the stride-2 projections stay (they are convolutions)."""
        codes = check_codes(codes, self.num_choices, "NAS-Bench-Macro")
        if prune:
            codes = canonical(codes)
        k, n = codes.shape[0], NUM_LAYERS + 2
        types = np.empty((k, n), dtype=np.int64)
        types[:, 0], types[:, -1] = NUM_OPS, NUM_OPS + 1
        types[:, 1:-1] = codes
        present = np.ones((k, n), dtype=bool)
        if prune:
            skip = np.array([c is not None for c in SKIP_CHOICE])
            present[:, 1:-1] = ~(skip[None, :] & (codes == 0))
            types[~present] = -1
        return chain_graphs(types), types      # each present node feeds the next present node


# --- the data folder -------------------------------------------------------------------------------------------
def _codes(path: Path, frame: pd.DataFrame, col: str) -> np.ndarray:
    """Vectorised parse of a column of arch strings; the first bad one gets parse_arch's one-line error."""
    text = frame[col].astype(str)
    ok = text.str.fullmatch(f"[012]{{{NUM_LAYERS}}}").to_numpy(dtype=bool) & frame[col].notna().to_numpy()
    if not ok.all():
        r = int(np.argmin(ok))
        try:
            parse_arch(frame[col].iloc[r] if isinstance(frame[col].iloc[r], str) else str(frame[col].iloc[r]))
        except HarnessError as e:
            raise HarnessError(f"{path}: column {col!r} row {r}: {e}") from None
    raw = np.frombuffer("".join(text).encode("ascii"), dtype=np.uint8)
    return (raw.reshape(len(frame), NUM_LAYERS) - ord("0")).astype(np.int64)


def load_frame(folder: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """(codes of the 6,561 rows, the validated table), one-line errors naming file, column, row and value."""
    path = folder / FILE
    frame = read_csv(path, ("arch", "canonical_arch", "ops"))
    require_columns(path, frame, COLUMNS, NUM_CODES)
    codes = _codes(path, frame, "arch")
    check_index(path, frame, codes, (NUM_OPS,) * NUM_LAYERS, format_arch)
    given = _codes(path, frame, "canonical_arch")
    wrong = np.any(given != canonical(codes), axis=1)
    if wrong.any():
        r = int(np.argmax(wrong))
        raise HarnessError(f"{path}: row {r}: canonical_arch {frame['canonical_arch'].iloc[r]!r} of arch "
                           f"{frame['arch'].iloc[r]!r} should be {format_arch(canonical(codes[r]))} (identities "
                           f"moved to the end of their stage)")
    values = {c: numeric(path, frame, c) for c in COLUMNS if c not in ("arch", "canonical_arch", "ops")}
    for c in SEED_COLUMNS + ("test_acc_mean_pct",):
        if values[c].min() < 0 or values[c].max() > 100:
            raise HarnessError(f"{path}: column {c!r} must be a percentage in 0..100, found "
                               f"{values[c].min():.3f}..{values[c].max():.3f}")
    seeds = np.array([values[c] for c in SEED_COLUMNS])
    for col, stat in (("test_acc_mean_pct", seeds.mean(axis=0)), ("test_acc_std_pct", seeds.std(axis=0))):
        off = np.abs(stat - values[col]) > 1e-5     # the CSV rounds to 6 decimals
        if off.any():
            r = int(np.argmax(off))
            raise HarnessError(f"{path}: row {r}: {col} {values[col][r]} does not match the 3 seeds ({stat[r]:.6f})")
    costs = block_costs("cifar10")
    for col, exact in (("flops_macs", costs.flops(codes)), ("params_count", costs.params(codes))):
        off = values[col] != exact
        if off.any():
            r = int(np.argmax(off))
            raise HarnessError(f"{path}: row {r} (arch {frame['arch'].iloc[r]}): {col} {values[col][r]:.0f} differs "
                               f"from the exact count of the network {exact[r]:.0f}")
    return codes, frame.assign(**values)


@lru_cache(maxsize=4)
def _load(folder: Path) -> NASBenchMacro:
    codes, frame = load_frame(folder)
    canon = canonical(codes)
    _, first, inverse = np.unique(lexicographic_rank(canon, (NUM_OPS,) * NUM_LAYERS), return_index=True,
                                  return_inverse=True)
    if first.size != NUM_ROWS:
        raise HarnessError(f"{folder / FILE}: {first.size} distinct canonical networks, expected {NUM_ROWS}")
    # codes of one trained network must carry identical numbers (the JSON copies them)
    numbers = frame[list(SEED_COLUMNS) + ["test_acc_std_pct"]].to_numpy(dtype=np.float64)
    differ = np.any(numbers != numbers[first][inverse.reshape(-1)], axis=1)
    if differ.any():
        r = int(np.argmax(differ))
        raise HarnessError(f"{folder / FILE}: row {r} (arch {frame['arch'].iloc[r]}) and its canonical_arch "
                           f"{frame['canonical_arch'].iloc[r]} carry different accuracies")
    return NASBenchMacro(canon[first], numbers[first, :len(SEED_COLUMNS)].T, folder)


def load_space(sources=None) -> NASBenchMacro:
    """The registered loader of space `nasbench_macro` (entry point): reads <data root>/nasbench_macro."""
    return _load(Sources.of(sources).folder(NAME))


load_space.cache_clear = _load.cache_clear
