"""FBNet (HW-NAS-Bench variant, CIFAR-100 32x32): 22 layers x 9 choices, 5,000 HELP samples with hardware costs.

../shared/fbnet/README.md: the arch string is 22 digits, digit d of layer l is the choice of that layer
(`OPS` below, `skip` = 8, allowed in ANY layer: depth varies without Eq. 9's ordering, so `skip_from` is
None). Rows are HELP's 5,000 samples in HELP's order; every (layer, op) occurs in them. There is no
accuracy (neither HW-NAS-Bench nor HELP has any for FBNet): the one task, `cifar100`, is hardware-only and
splits the rows as HELP does (first 4,000 to learn from, last 1,000 to score).

FLOPs/params: `block_costs` is None. Counting HW-NAS-Bench's own FBNet_Infer code (GATECH-EIC/HW-NAS-Bench,
hw_nas_bench_api/fbnet_models/model_infer.py) with the ImageNet setting for FBNet-A/B/C gives 248/297/385
MMACs and 4.9/4.8/5.6 M params against the FBNet paper's 249/295/375 M FLOPs and 4.3/4.5/5.5 M params: no
published number is reproduced, so no count is offered as FLOPs. `size_proxy` (expansion x kernel^2 per
layer, skip 0) only ranks choices (base/teacher networks) and is the declared objective of hardware-only optima.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import HarnessError
from spaces.sampled import SampledSpace, SampledTables, hardware_task, read_samples, table_loader
from spaces.tables import chain_graphs

FOLDER = "fbnet"
FILE = "fbnet_help_latency.csv"
NUM_LAYERS = 22
OPS = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
SKIP = OPS.index("skip")
ROWS, TRAIN_ROWS = 5000, 4000
DEVICES = (
    "1080ti_1", "1080ti_32", "1080ti_64", "2080ti_1", "2080ti_32", "2080ti_64", "essential_ph_1", "eyeriss",
    "fpga", "gold_6226", "gold_6240", "pixel2", "pixel3", "raspi4", "samsung_a50", "samsung_s7", "silver_4114",
    "silver_4210r", "titan_rtx_1", "titan_rtx_32", "titan_rtx_64", "titanx_1", "titanx_32", "titanx_64",
    "titanxp_1", "titanxp_32", "titanxp_64",
)
TASK = hardware_task("cifar100", TRAIN_ROWS, "FBNet on CIFAR-100 inputs (HW-NAS-Bench); latency of 27 devices from HELP")
# node types of `graph`: the 9 choices, then the network's input and output
INPUT, OUTPUT = len(OPS), len(OPS) + 1
_ARCH = re.compile(r"^[0-8]{22}$")


def _proxy_of(op: str) -> int:
    """expansion x kernel^2 of a choice (grouped 1x1 convolutions count as their ungrouped twin), skip 0."""
    if op == "skip":
        return 0
    k, e = re.match(r"^k(\d)_e(\d)", op).groups()
    return int(e) * int(k) ** 2


def parse_arch(arch: str) -> np.ndarray:
    """22-digit arch string -> code; one line naming the problem otherwise."""
    if not isinstance(arch, str):
        raise HarnessError(f"fbnet arch string expected, got {type(arch).__name__}")
    text = arch.strip()
    if not _ARCH.match(text):
        raise HarnessError(f"fbnet arch {arch[:60]!r}: expected 22 digits 0..8 (one choice per layer: "
                           f"{', '.join(f'{i} {op}' for i, op in enumerate(OPS))})")
    return np.frombuffer(text.encode(), dtype=np.uint8).astype(np.int64) - ord("0")


class FBNetSpace(SampledSpace):
    name = "fbnet"
    num_choices = (len(OPS),) * NUM_LAYERS
    choice_names = (OPS,) * NUM_LAYERS
    tasks = {TASK.name: TASK}
    source = "FBNet space of HW-NAS-Bench, 5,000 samples x 27 devices from HELP (../shared/fbnet)"
    num_node_types = len(OPS) + 2
    _train_rows = TRAIN_ROWS
    _rule = "22 layers, choices 0..8"

    def _valid(self, codes) -> np.ndarray:
        return np.ones(codes.shape[0], dtype=bool)   # every combination is a network (skip anywhere)

    def encode(self, arch: str) -> np.ndarray:
        return parse_arch(arch)

    def decode(self, code) -> str:
        return "".join(str(int(c)) for c in self.check_codes(code)[0])

    def ops(self, code) -> str:
        """The layer names joined by '-' (the CSV's `ops` column)."""
        return "-".join(OPS[int(c)] for c in self.check_codes(code)[0])

    def sample(self, k: int, seed: int) -> np.ndarray:
        """k uniformly random codes of all 9^22 (with replacement), seeded."""
        return np.random.default_rng(seed).integers(0, len(OPS), size=(int(k), NUM_LAYERS)).astype(np.int64)

    def size_proxy(self, dataset: str | None = None) -> tuple[np.ndarray, ...]:
        """expansion x kernel^2 of each choice of each layer (skip 0): a size index, not FLOPs."""
        return (np.array([_proxy_of(op) for op in OPS], dtype=np.float64),) * NUM_LAYERS

    def graph(self, codes, prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The network as a chain input -> 22 layers -> output, op types on nodes (BRP-NAS's GCN).

        (adjacency (K, 24, 24) bool, node types (K, 24)); types 0..8 = the choices, 9 input, 10 output;
        with `prune` skip layers are absent (-1) and their neighbours joined directly."""
        codes = self.check_codes(codes)
        types = np.empty((codes.shape[0], NUM_LAYERS + 2), dtype=np.int64)
        types[:, 0], types[:, -1] = INPUT, OUTPUT
        types[:, 1:-1] = np.where(codes == SKIP, -1, codes) if prune else codes
        return chain_graphs(types), types


def _build(folder: Path) -> SampledTables:
    """The validated CSV of ../shared/fbnet (devices: the CSV's columns without `_ms`)."""
    t = read_samples(folder, FILE, ROWS, DEVICES, parse_arch, text_columns=("ops",), numeric_columns=("depth",))
    depth = (t.codes != SKIP).sum(axis=1)
    ops = pd.Series(["-".join(OPS[c] for c in code) for code in t.codes])
    for what, bad in (("depth", depth != t.numbers["depth"]), ("ops", (ops != t.frame["ops"]).to_numpy())):
        if bad.any():
            raise HarnessError(f"{t.path}: row {int(np.argmax(bad))}: column {what!r} disagrees with its arch")
    return SampledTables(folder=folder, space=FBNetSpace(t.codes, str(t.path)), latency=t.latency)


load_tables = table_loader(FOLDER, _build)


def load_space(sources=None) -> FBNetSpace:
    """The registered loader of space `fbnet` (entry point)."""
    return load_tables(sources).space
