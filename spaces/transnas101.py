"""TransNAS-Bench-101 micro (Duan et al., CVPR 2021): one cell, 6 edges x 4 ops, 4,096 networks, 7 tasks
(../shared/transnas101, as re-published in automl/NASLib).

The cell is NAS-Bench-201's: edges (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2), each one of `zero`, `skip`,
`conv1x1`, `conv3x3` (digits 0..3). Arch strings both ways: the 6-digit `arch` of the table (edge order as
above) and TransNAS's own `64-41414-{e1}_{e2}{e3}_{e4}{e5}{e6}` (the macro skeleton 64-41414 is fixed).
Rows are the 4,096 codes in lexicographic order (`arch_index` = int(arch, 4)); no isomorphism merging (the
benchmark trained every cell).

Tasks carry their own metric, unit and direction; everything is the final-epoch VALIDATION metric (no test
split is published here), so methods search on it and results are scored on it. `room_layout` is an L2 loss
(lower is better): `accuracy` returns it oriented (the table's negative loss) and `Task.raw` turns it back.

No exact costs: per-edge FLOPs/params would need the TransNAS network of every task (encoder plus a
task-specific decoder) and a published count to check them against; neither is in ../shared (the original
model_info is not, and NASLib's zero-cost "flops"/"params" proxies are in unstated units), so `block_costs`
is None: MathNAS runs only with the plain block sum (flops_scaling=false), LANA picks its teacher by the
choice order (conv3x3 everywhere), and there are no FLOPs/params limits or analytic device profiles here.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.codes import check_codes, lexicographic_rank, product_codes, random_codes
from core.errors import HarnessError, shown
from core.protocols import HIGHER, LOWER, Task
from core.sources import Sources
from spaces.cell_graph import cell_graphs
from spaces.nb201_geometry import EDGES
from spaces.tables import TableRows, check_index, numeric, read_csv, require_columns

NAME = "transnas101"
FILE = "transnas101_micro_valid.csv"
OPS: tuple[str, ...] = ("zero", "skip", "conv1x1", "conv3x3")
NUM_NODES = len(EDGES)
NUM_OPS = len(OPS)
NUM_ARCHS = NUM_OPS ** NUM_NODES            # 4,096
MACRO_SKELETON = "64-41414"
_TNB = re.compile(r"^(\d+-\d+)-(.)_(..)_(...)$")
_NOTE = "final-epoch validation metric (TransNAS-Bench-101 via NASLib); no test split published, so search and score " \
        "both use validation"
# task -> (column, metric, unit, direction, valid range of the raw metric)
COLUMNS: dict[str, tuple[str, str, str, str, tuple[float, float]]] = {
    "class_scene": ("class_scene_valid_top1_pct", "valid top-1 accuracy", "%", HIGHER, (0, 100)),
    "class_object": ("class_object_valid_top1_pct", "valid top-1 accuracy", "%", HIGHER, (0, 100)),
    "jigsaw": ("jigsaw_valid_top1_pct", "valid top-1 accuracy", "%", HIGHER, (0, 100)),
    "room_layout": ("room_layout_valid_neg_l2loss", "valid L2 loss", "", LOWER, (0, np.inf)),
    "segmentsemantic": ("segmentsemantic_valid_pixacc_pct", "valid pixel accuracy", "%", HIGHER, (0, 100)),
    "autoencoder": ("autoencoder_valid_ssim", "valid SSIM", "", HIGHER, (-1, 1)),
    "normal": ("normal_valid_ssim", "valid SSIM", "", HIGHER, (-1, 1)),
}
TASKS: dict[str, Task] = {t: Task(t, metric, unit, direction, search_split="valid", score_split="valid",
                                  note=_NOTE + ("; the table's column is the negative loss" if direction == LOWER
                                                else ""))
                          for t, (_, metric, unit, direction, _) in COLUMNS.items()}


def _digits(arch: str, text: str) -> np.ndarray:
    bad = [(i, c) for i, c in enumerate(text) if c not in "0123"]
    if bad:
        i, c = bad[0]
        raise HarnessError(f"TransNAS-Bench-101 arch {shown(arch)}: edge {i + 1} is {c!r}; valid: "
                           + ", ".join(f"{j} ({op})" for j, op in enumerate(OPS)))
    return np.array([int(c) for c in text], dtype=np.int64)


def parse_arch(arch) -> np.ndarray:
    """'102031' or '64-41414-1_02_031' -> code; a one-line error naming the bad part."""
    if not isinstance(arch, str):
        raise HarnessError(f"TransNAS-Bench-101 arch: expected a string, got {type(arch).__name__}")
    text = arch.strip()
    if "-" in text:
        m = _TNB.match(text)
        if not m:
            raise HarnessError(f"TransNAS-Bench-101 arch {shown(arch)}: expected '{MACRO_SKELETON}-e_ee_eee' (the "
                               f"micro cell's 6 edge ops) or 6 digits")
        if m.group(1) != MACRO_SKELETON:
            raise HarnessError(f"TransNAS-Bench-101 arch {shown(arch)}: macro skeleton {m.group(1)!r}; the micro "
                               f"space has only {MACRO_SKELETON!r}")
        return _digits(arch, "".join(m.groups()[1:]))
    if len(text) != NUM_NODES:
        raise HarnessError(f"TransNAS-Bench-101 arch {shown(arch)}: expected {NUM_NODES} digits (one op per edge) or "
                           f"'{MACRO_SKELETON}-e_ee_eee', got {len(text)} characters")
    return _digits(arch, text)


def format_arch(code) -> str:
    c = check_codes(code, (NUM_OPS,) * NUM_NODES, "TransNAS-Bench-101")
    if c.shape[0] != 1:
        raise HarnessError(f"TransNAS-Bench-101: one code expected, got {c.shape[0]}")
    return "".join(str(int(v)) for v in c[0])


def tnb_arch(code) -> str:
    """TransNAS-Bench-101's own string of a code, e.g. '64-41414-1_02_031'."""
    return "{}-{}_{}{}_{}{}{}".format(MACRO_SKELETON, *format_arch(code))


class TransNAS101Micro(TableRows):
    """TransNAS-Bench-101 micro as a Space: rows = the 4,096 cells in lexicographic order of their codes."""

    name = NAME
    num_nodes = NUM_NODES
    num_choices: tuple[int, ...] = (NUM_OPS,) * NUM_NODES
    choice_names: tuple[tuple[str, ...], ...] = (OPS,) * NUM_NODES
    choices_by_size = True                  # listed smallest to largest: the size order where no FLOPs are known
    skip_from = None
    tasks = TASKS
    num_node_types = NUM_OPS + 2            # graph node types: 0..3 the ops, 4 input, 5 output
    source = ("TransNAS-Bench-101 micro (Duan et al., CVPR 2021), validation metrics of 7 tasks as re-published in "
              "automl/NASLib (zc_benchmarks/all_benchmarks_zen.zip); ../shared/transnas101")

    def __init__(self, values: dict[str, np.ndarray], folder: Path | None = None):
        self._codes = product_codes(self.num_choices)
        self._codes.setflags(write=False)
        self._values = {}
        for task, v in values.items():
            v = np.asarray(v, dtype=np.float64)
            if v.shape != (NUM_ARCHS,):
                raise HarnessError(f"TransNAS-Bench-101 {task}: expected {NUM_ARCHS} values, got {v.shape}")
            v.setflags(write=False)
            self._values[task] = v
        self.folder = folder

    def index(self, codes) -> np.ndarray:
        return lexicographic_rank(check_codes(codes, self.num_choices, "TransNAS-Bench-101"), self.num_choices)

    encode = staticmethod(parse_arch)      # the benchmark's arch string -> code (one-line error naming the bad part)
    decode = staticmethod(format_arch)     # code -> arch string

    def sample(self, k: int, seed: int) -> np.ndarray:
        return random_codes(k, seed, self.num_choices)

    def block_costs(self, dataset: str | None = None):
        """None: no verified per-edge FLOPs/params (see the module docstring)."""
        return None

    def accuracy(self, dataset: str, split: str = "valid") -> np.ndarray:
        """The task's validation metric per row, oriented so that higher is better (room_layout: -L2 loss)."""
        if dataset not in TASKS:
            raise HarnessError(f"unknown dataset {shown(dataset)} of space {NAME}; valid: {', '.join(TASKS)}")
        if split != "valid":
            raise HarnessError(f"TransNAS-Bench-101 {dataset}: no {shown(split)} split (validation only)")
        return self._values[dataset]

    def graph(self, codes, prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """NAS-Bench-201's cell graph (spaces.cell_graph): node 0 input, 1..6 the edge ops (types 0..3), 7 output
        (types 4, 5); with `prune` zero ops removed, skips contracted, dead nodes absent (-1)."""
        codes = check_codes(codes, self.num_choices, "TransNAS-Bench-101")
        return cell_graphs(codes, EDGES, NUM_OPS, OPS.index("zero"), OPS.index("skip"), prune)


# --- the data folder -------------------------------------------------------------------------------------------
def load_values(folder: Path) -> dict[str, np.ndarray]:
    """Validated oriented values per task, rows in lexicographic code order; one-line errors naming the culprit."""
    path = folder / FILE
    frame = read_csv(path, ("arch", "tnb_arch_str"))
    require_columns(path, frame, ["arch_index", "arch", "tnb_arch_str"] + [c[0] for c in COLUMNS.values()], NUM_ARCHS)
    codes = np.empty((NUM_ARCHS, NUM_NODES), dtype=np.int64)
    for r, (a, t) in enumerate(zip(frame["arch"], frame["tnb_arch_str"])):
        try:
            codes[r] = parse_arch(a if isinstance(a, str) else str(a))
            if not isinstance(t, str) or np.any(parse_arch(t) != codes[r]):
                raise HarnessError(f"tnb_arch_str {t!r} is not the cell of arch {a!r}")
        except HarnessError as e:
            raise HarnessError(f"{path}: row {r}: {e}") from None
    lex = check_index(path, frame, codes, (NUM_OPS,) * NUM_NODES, format_arch)
    order = np.argsort(lex)
    out = {}
    for task, (col, _, _, direction, (lo, hi)) in COLUMNS.items():
        v = numeric(path, frame, col)
        raw = -v if direction == LOWER else v     # the table stores the loss negated
        if raw.min() < lo or raw.max() > hi:
            raise HarnessError(f"{path}: column {col!r} outside its range {lo:g}..{hi:g} ({raw.min():g}..{raw.max():g})")
        out[task] = v[order]
    return out


@lru_cache(maxsize=4)
def _load(folder: Path) -> TransNAS101Micro:
    return TransNAS101Micro(load_values(folder), folder)


def load_space(sources=None) -> TransNAS101Micro:
    """The registered loader of space `transnas101` (entry point): reads <data root>/transnas101."""
    return _load(Sources.of(sources).folder(NAME))


load_space.cache_clear = _load.cache_clear
