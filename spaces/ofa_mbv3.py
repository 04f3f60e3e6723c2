"""OFA MobileNetV3 (ImageNet): 20 layer slots + the input resolution, 5,000 HELP samples with GPU latencies.

../shared/ofa_mbv3/README.md: 5 stages x 4 slots; an active slot picks kernel {3,5,7} x expansion {3,4,6};
stage depth d in {2,3,4}, slots beyond d are skip; resolution r in {128,132,...,224}. Codes have 21 nodes:

  nodes 0..19  slot 4s+j of stage s: j = 0, 1 always active (9 choices); j = 2, 3: 9 choices + skip (last)
  node 20      the input resolution (25 choices, 128 + 4 i)

Depth as Eq. 9: inside each stage the skippable slots (4s+2, 4s+3) form a suffix: once slot 4s+2 is skip,
slot 4s+3 is skip too. That is Eq. 9's ordering applied per stage, declared as `skip_groups` ((2, 3), (6, 7),
..., (18, 19)); `skip_from` (one global suffix) is None. The solvers add, per stage, x[4s+3, skip] >=
x[4s+2, skip] (core.codes.skip_pairs). Codes breaking it are not architectures (one-line error). The arch string is the CSV's: `r<res>:` + 20 tokens `k<k>e<e>` or `skip`.

Hardware only (HELP pairs the samples with OFA's accuracy PREDICTOR, not measured accuracy): task
`imagenet`, split like HELP (first 4,000 rows to learn from, last 1,000 scored). `block_costs` is None
(FLOPs scale with the resolution, so they are not a per-block sum, and no count was checked against a
published number); `size_proxy` (expansion x kernel^2 per active slot; resolution 0: it adds no weights)
only ranks choices.
"""
from __future__ import annotations

import re
from itertools import product
from pathlib import Path

import numpy as np

from core.codes import depth_valid
from core.errors import HarnessError
from spaces.sampled import SampledSpace, SampledTables, hardware_task, read_samples, table_loader
from spaces.tables import chain_graphs

FOLDER = "ofa_mbv3"
FILE = "ofa_mbv3_help_latency.csv"
STAGES, SLOTS = 5, 4
NUM_SLOTS = STAGES * SLOTS
KERNELS, EXPANSIONS = (3, 5, 7), (3, 4, 6)
LAYER_OPS = tuple(f"k{k}e{e}" for k, e in product(KERNELS, EXPANSIONS))
SKIP_OPS = LAYER_OPS + ("skip",)
RESOLUTIONS = tuple(range(128, 225, 4))
RES_NODE = NUM_SLOTS
SKIP_GROUPS = tuple((SLOTS * s + 2, SLOTS * s + 3) for s in range(STAGES))
ROWS, TRAIN_ROWS = 5000, 4000
DEVICES = tuple(f"{g}_{b}" for g in ("2080ti", "titan_rtx", "titan_xp", "v100") for b in (1, 32, 64))
TASK = hardware_task("imagenet", TRAIN_ROWS, "OFA MobileNetV3 on ImageNet inputs; latency of 4 GPUs x 3 batch "
                                              "sizes from HELP")
# node types of `graph`: 9 layer choices, skip, the input at each resolution, the output
SKIP_TYPE = len(LAYER_OPS)
INPUT0 = SKIP_TYPE + 1
OUTPUT = INPUT0 + len(RESOLUTIONS)
_ARCH = re.compile(r"^r(\d+):(.*)$")


def _slot_names(slot: int) -> tuple[str, ...]:
    return SKIP_OPS if slot % SLOTS >= 2 else LAYER_OPS


def parse_arch(arch: str) -> np.ndarray:
    """`r<res>:` + 20 tokens -> code (21 ints); one line naming the problem otherwise."""
    if not isinstance(arch, str):
        raise HarnessError(f"ofa_mbv3 arch string expected, got {type(arch).__name__}")
    m = _ARCH.match(arch.strip())
    if not m:
        raise HarnessError(f"ofa_mbv3 arch {arch[:60]!r}: expected 'r<resolution>:' followed by 20 layers "
                           f"k<3|5|7>e<3|4|6> or skip, joined by '-'")
    res, tokens = int(m.group(1)), m.group(2).split("-")
    if res not in RESOLUTIONS:
        raise HarnessError(f"ofa_mbv3 arch {arch[:60]!r}: resolution {res} not in 128, 132, ..., 224")
    if len(tokens) != NUM_SLOTS:
        raise HarnessError(f"ofa_mbv3 arch {arch[:60]!r}: {len(tokens)} layers, expected {NUM_SLOTS}")
    code = np.empty(NUM_SLOTS + 1, dtype=np.int64)
    for slot, tok in enumerate(tokens):
        names = _slot_names(slot)
        if tok not in names:
            why = "the first two layers of a stage are always active" if tok == "skip" else \
                f"valid: {', '.join(LAYER_OPS)}, skip"
            raise HarnessError(f"ofa_mbv3 arch {arch[:60]!r}: layer {slot} (stage {slot // SLOTS}) is {tok[:20]!r}; "
                               f"{why}")
        code[slot] = names.index(tok)
    code[RES_NODE] = RESOLUTIONS.index(res)
    if not _valid(code[None])[0]:
        s = int(np.argmin(_stage_ok(code[None])[0]))
        raise HarnessError(f"ofa_mbv3 arch {arch[:60]!r}: stage {s} skips layer {SLOTS * s + 2} but not layer "
                           f"{SLOTS * s + 3} (a stage's depth is 2, 3 or 4: skips form a suffix)")
    return code


def _stage_ok(codes: np.ndarray) -> np.ndarray:
    """(K, 5): each stage's skippable slots skip a suffix (Eq. 9 inside the stage)."""
    return np.stack([depth_valid(codes[:, list(g)], [len(SKIP_OPS)] * 2, 0) for g in SKIP_GROUPS], axis=1)


def _valid(codes: np.ndarray) -> np.ndarray:
    return _stage_ok(codes).all(axis=1)


def _proxy_of(op: str) -> int:
    return 0 if op == "skip" else int(op[3]) * int(op[1]) ** 2


class OFASpace(SampledSpace):
    name = "ofa_mbv3"
    num_choices = tuple(len(_slot_names(s)) for s in range(NUM_SLOTS)) + (len(RESOLUTIONS),)
    choice_names = tuple(_slot_names(s) for s in range(NUM_SLOTS)) + (tuple(f"r{r}" for r in RESOLUTIONS),)
    skip_groups = SKIP_GROUPS
    skip_choice = tuple(len(SKIP_OPS) - 1 if s % SLOTS >= 2 else None for s in range(NUM_SLOTS)) + (None,)
    tasks = {TASK.name: TASK}
    source = "Once-for-All MobileNetV3 space, 5,000 samples x 12 GPU settings from HELP (../shared/ofa_mbv3)"
    num_node_types = OUTPUT + 1
    _train_rows = TRAIN_ROWS
    _rule = "20 slots then the resolution; inside a stage, a skipped layer's successors are skipped too"

    def _valid(self, codes) -> np.ndarray:
        return _valid(codes)

    def encode(self, arch: str) -> np.ndarray:
        return parse_arch(arch)

    def decode(self, code) -> str:
        c = self.check_codes(code)[0]
        layers = "-".join(_slot_names(s)[int(c[s])] for s in range(NUM_SLOTS))
        return f"r{RESOLUTIONS[int(c[RES_NODE])]}:{layers}"

    def sample(self, k: int, seed: int) -> np.ndarray:
        """k random sub-networks drawn as OFA samples them: per stage a depth uniform in {2, 3, 4}, per active
        layer kernel and expansion uniform, the resolution uniform (seeded)."""
        rng = np.random.default_rng(seed)
        k = int(k)
        codes = np.empty((k, NUM_SLOTS + 1), dtype=np.int64)
        codes[:, :NUM_SLOTS] = rng.integers(0, len(LAYER_OPS), size=(k, NUM_SLOTS))
        depth = rng.integers(2, SLOTS + 1, size=(k, STAGES))
        for s in range(STAGES):
            for j in (2, 3):
                codes[depth[:, s] <= j, SLOTS * s + j] = len(LAYER_OPS)   # skip
        codes[:, RES_NODE] = rng.integers(0, len(RESOLUTIONS), size=k)
        return codes

    def size_proxy(self, dataset: str | None = None) -> tuple[np.ndarray, ...]:
        """expansion x kernel^2 per slot choice (skip 0), 0 for every resolution: a size index, not FLOPs."""
        slots = tuple(np.array([_proxy_of(op) for op in _slot_names(s)], dtype=np.float64) for s in range(NUM_SLOTS))
        return slots + (np.zeros(len(RESOLUTIONS)),)

    def graph(self, codes, prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The network as a chain input -> 20 slots -> output (BRP-NAS's GCN): (adjacency (K, 22, 22) bool,
        node types (K, 22)). Types 0..8 = k x e choices, 9 skip, 10..34 the input at each resolution (the
        resolution is a property of the input), 35 the output; with `prune` skipped slots are absent (-1)."""
        codes = self.check_codes(codes)
        slots = codes[:, :NUM_SLOTS]
        types = np.empty((codes.shape[0], NUM_SLOTS + 2), dtype=np.int64)
        types[:, 0] = INPUT0 + codes[:, RES_NODE]
        types[:, -1] = OUTPUT
        types[:, 1:-1] = np.where(slots == SKIP_TYPE, -1, slots) if prune else slots
        return chain_graphs(types), types


def _build(folder: Path) -> SampledTables:
    """The validated CSV of ../shared/ofa_mbv3 (devices: the CSV's columns without `_ms`)."""
    t = read_samples(folder, FILE, ROWS, DEVICES, parse_arch, text_columns=("depth_per_stage", "ks_raw", "e_raw"),
                     numeric_columns=("resolution", "depth"))
    _check_columns(t.path, t.frame, t.numbers, t.codes)
    return SampledTables(folder=folder, space=OFASpace(t.codes, str(t.path)), latency=t.latency)


load_tables = table_loader(FOLDER, _build)


def _check_columns(path: Path, frame, cols: dict, codes: np.ndarray) -> None:
    """resolution, depth_per_stage, depth and HELP's raw kernel/expansion lists agree with each arch."""
    active = codes[:, :NUM_SLOTS] != SKIP_TYPE
    per_stage = active.reshape(ROWS, STAGES, SLOTS).sum(axis=2)
    kernel = np.array([int(op[1]) for op in SKIP_OPS[:-1]] + [0])[codes[:, :NUM_SLOTS]]
    expand = np.array([int(op[3]) for op in SKIP_OPS[:-1]] + [0])[codes[:, :NUM_SLOTS]]

    def digits(col: str, width: int) -> np.ndarray:
        text = frame[col].fillna("").to_numpy()
        bad = np.array([len(t) != width or not t.isdigit() for t in text])
        if bad.any():
            raise HarnessError(f"{path}: row {int(np.argmax(bad))}: column {col!r} must be {width} digits")
        return np.array([[int(ch) for ch in t] for t in text])

    checks = {
        "resolution": cols["resolution"] != np.array(RESOLUTIONS)[codes[:, RES_NODE]],
        "depth": cols["depth"] != active.sum(axis=1),
        "depth_per_stage": (digits("depth_per_stage", STAGES) != per_stage).any(axis=1),
        "ks_raw": ((digits("ks_raw", NUM_SLOTS) != kernel) & active).any(axis=1),
        "e_raw": ((digits("e_raw", NUM_SLOTS) != expand) & active).any(axis=1),
    }
    for col, bad in checks.items():
        if bad.any():
            raise HarnessError(f"{path}: row {int(np.argmax(bad))}: column {col!r} disagrees with its arch")


def load_space(sources=None) -> OFASpace:
    """The registered loader of space `ofa_mbv3` (entry point)."""
    return load_tables(sources).space
