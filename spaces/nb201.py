"""The NAS-Bench-201 cell space: 6 edges, 5 operations, codes <-> official arch strings.

An edge `op~j` in the group of node i means node i receives op(node j). Edges in code order:
(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2), matching the official string
`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
"""
from __future__ import annotations

import re

import numpy as np

from core.codes import check_codes, lexicographic_rank, product_codes, random_codes
from core.errors import HarnessError, shown, unknown_name
from core.protocols import BlockCosts, Task
from spaces.cell_graph import cell_graphs
from spaces.nb201_costs import block_costs
from spaces.nb201_geometry import dataset_spec
from spaces.nb201_geometry import EDGES, NUM_ARCHS, NUM_NODES, NUM_OPS, OPS  # noqa: F401 (re-exported)

# Node types of the cell graph (ops on nodes, as BRP-NAS/eagle): the five ops, then input and output.
NODE_TYPES: tuple[str, ...] = OPS + ("input", "output")
INPUT_TYPE, OUTPUT_TYPE = NUM_OPS, NUM_OPS + 1
NONE_OP, SKIP_OP = OPS.index("none"), OPS.index("skip_connect")

# What each dataset's accuracy column means (../shared/nb201/README.md).
TASKS: dict[str, Task] = {
    "cifar10": Task("cifar10", "test accuracy", "%", note="200 epochs, mean over seeds (NATS-Bench)"),
    "cifar100": Task("cifar100", "test accuracy", "%", note="200 epochs, mean over seeds (NATS-Bench)"),
    "imagenet16_120": Task("imagenet16_120", "test accuracy", "%", note="200 epochs, mean over seeds (NATS-Bench)"),
    "darcy": Task("darcy", "score", "", note="NAS-Bench-360 Darcy Flow, higher is better (HW-NAS-Bench-360, "
                                             "per isomorphism class)"),
    "ninapro": Task("ninapro", "test accuracy", "%", note="NAS-Bench-360 NinaPro EMG (HW-NAS-Bench-360, per "
                                                          "isomorphism class)"),
}
_TOKEN = re.compile(r"^([A-Za-z0-9_]+)~(\d+)$")


def parse_arch(arch: str) -> np.ndarray:
    """Official arch string -> code (int vector of length 6). Raises HarnessError naming the bad part."""
    if not isinstance(arch, str):
        raise HarnessError(f"arch string expected, got {type(arch).__name__}")
    arch = arch if len(arch) <= 1000 else arch[:1000]  # longer than any valid string: the error shows its start
    text = arch.strip()
    groups = text.split("+")
    if len(groups) != 3:
        raise HarnessError(f"arch {shown(arch)}: expected 3 node groups separated by '+', found {len(groups)}")
    code: list[int] = []
    for node, group in enumerate(groups, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
            raise HarnessError(f"arch {shown(arch)}: node {node} group {group!r} must look like |op~j|...|")
        tokens = group[1:-1].split("|")
        if len(tokens) != node:
            raise HarnessError(f"arch {shown(arch)}: node {node} needs {node} edge(s), found {len(tokens)} in {group!r}")
        for j, tok in enumerate(tokens):
            m = _TOKEN.match(tok)
            if not m:
                raise HarnessError(f"arch {shown(arch)}: malformed edge {tok!r} (expected op~input)")
            op, src = m.group(1), int(m.group(2))
            if op not in OPS:
                raise HarnessError(f"arch {shown(arch)}: unknown op {op!r}; valid: {', '.join(OPS)}")
            if src != j:
                raise HarnessError(f"arch {shown(arch)}: edge {tok!r} of node {node} must read from input {j}")
            code.append(OPS.index(op))
    return np.array(code, dtype=np.int64)


def format_arch(code) -> str:
    """Code -> official arch string."""
    c = np.asarray(code).reshape(-1)
    if c.shape[0] != NUM_NODES:
        raise HarnessError(f"code {list(c)}: NAS-Bench-201 codes have {NUM_NODES} entries, got {c.shape[0]}")
    if np.any((c < 0) | (c >= NUM_OPS)):
        raise HarnessError(f"code {list(c)}: entries must be in 0..{NUM_OPS - 1}")
    names = [OPS[int(v)] for v in c]
    return (
        f"|{names[0]}~0|+|{names[1]}~0|{names[2]}~1|+|{names[3]}~0|{names[4]}~1|{names[5]}~2|"
    )


class NB201Space:
    """NAS-Bench-201 as a Space. `order` (codes in official index order) comes from the data folder;
    without it enumeration is lexicographic. Rows of every benchmark table follow `enumerate()`.
    `accuracy` maps dataset -> per-row accuracy (the data folder's; empty when built without data)."""

    name = "nb201"
    source = "NAS-Bench-201 (Dong & Yang, ICLR 2020) via NATS-Bench; ../shared/nb201"
    num_nodes = NUM_NODES
    num_choices: tuple[int, ...] = (NUM_OPS,) * NUM_NODES
    choice_names: tuple[tuple[str, ...], ...] = (OPS,) * NUM_NODES
    skip_from = None
    num_node_types = len(NODE_TYPES)     # node-type ids of `graph`: 0..4 the ops, 5 input, 6 output
    node_type_names = NODE_TYPES

    def __init__(self, order: np.ndarray | None = None, accuracy: dict | None = None):
        codes = product_codes(self.num_choices) if order is None else np.asarray(order, dtype=np.int64)
        if codes.shape != (NUM_ARCHS, NUM_NODES):
            raise HarnessError(f"NAS-Bench-201 order must be {NUM_ARCHS} codes of length 6, got {codes.shape}")
        lex = lexicographic_rank(codes, self.num_choices)
        if np.unique(lex).size != NUM_ARCHS:
            raise HarnessError("NAS-Bench-201 order lists some architecture twice (duplicated arch strings)")
        self._codes = codes
        self._codes.setflags(write=False)
        self._row_of_lex = np.empty(NUM_ARCHS, dtype=np.int64)
        self._row_of_lex[lex] = np.arange(NUM_ARCHS)
        self._accuracy = dict(accuracy or {})

    @property
    def size(self) -> int:
        return NUM_ARCHS

    @property
    def tasks(self) -> dict[str, Task]:
        return {d: TASKS[d] for d in TASKS if d in self._accuracy}

    def enumerate(self) -> np.ndarray:
        """All codes, row i = architecture with official index i (when built with the official order)."""
        return self._codes

    def index(self, codes) -> np.ndarray:
        """Row (official index) of each code."""
        codes = self.check_codes(codes)
        return self._row_of_lex[lexicographic_rank(codes, self.num_choices)]

    def check_codes(self, codes) -> np.ndarray:
        return check_codes(codes, self.num_choices, "NAS-Bench-201")

    def encode(self, arch: str) -> np.ndarray:
        return parse_arch(arch)

    def decode(self, code) -> str:
        return format_arch(code)

    # --- the cell as a graph (for graph predictors such as BRP-NAS's GCN) ------------------------
    def graph(self, codes, prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Codes (K, 6) -> (adjacency (K, 8, 8) bool, node types (K, 8) int64; -1 = node dropped), by
        `spaces.cell_graph`: node 0 the cell input, 1..6 the edge ops in code order, 7 the output. `prune`
        (eagle; right for accuracy) removes `none`, contracts `skip_connect` and drops nodes off every
        input->output path, so equivalent cells share a graph; without it every op is a node (latency)."""
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        self.check_codes(codes)
        return cell_graphs(codes, EDGES, NUM_OPS, NONE_OP, SKIP_OP, prune)

    def sample(self, k: int, seed: int) -> np.ndarray:
        """k uniformly random codes (with replacement), seeded."""
        return random_codes(k, seed, self.num_choices)

    def block_costs(self, dataset: str) -> BlockCosts:
        return block_costs(dataset)

    def accuracy(self, dataset: str, split: str = "test") -> np.ndarray:
        if dataset not in self._accuracy:
            raise unknown_name("dataset", dataset, self._accuracy)
        if split != "test":
            raise HarnessError(f"NAS-Bench-201 {dataset}: no {shown(split)} split in this data folder (test only)")
        return self._accuracy[dataset]

    # --- live measurement (devices.local) -----------------------------------------------------------
    def torch_model(self, code, dataset: str):
        """The real torch network of `code` for `dataset` (spaces.nb201_model)."""
        from spaces.nb201_model import build_model  # torch is imported only when a network is built

        return build_model(code, dataset)

    def input_shape(self, dataset: str) -> tuple[int, int, int]:
        return dataset_spec(dataset).input_shape
