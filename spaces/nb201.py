"""The NAS-Bench-201 cell space: 6 edges, 5 operations, codes <-> official arch strings.

An edge `op~j` in the group of node i means node i receives op(node j). Edges in code order:
(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2), matching the official string
`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
"""
from __future__ import annotations

import re

import numpy as np

from harness.errors import HarnessError
from spaces.base import lexicographic_rank, product_codes

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from)
NUM_NODES = len(EDGES)
NUM_OPS = len(OPS)
NUM_ARCHS = NUM_OPS**NUM_NODES  # 15,625
# Node types of the cell graph (ops on nodes, as BRP-NAS/eagle): the five ops, then input and output.
NODE_TYPES: tuple[str, ...] = OPS + ("input", "output")
INPUT_TYPE, OUTPUT_TYPE = NUM_OPS, NUM_OPS + 1
NONE_OP, SKIP_OP = OPS.index("none"), OPS.index("skip_connect")
_TOKEN = re.compile(r"^([A-Za-z0-9_]+)~(\d+)$")


def parse_arch(arch: str) -> np.ndarray:
    """Official arch string -> code (int vector of length 6). Raises HarnessError naming the bad part."""
    if not isinstance(arch, str):
        raise HarnessError(f"arch string expected, got {type(arch).__name__}")
    text = arch.strip()
    groups = text.split("+")
    if len(groups) != 3:
        raise HarnessError(f"arch {arch!r}: expected 3 node groups separated by '+', found {len(groups)}")
    code: list[int] = []
    for node, group in enumerate(groups, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
            raise HarnessError(f"arch {arch!r}: node {node} group {group!r} must look like |op~j|...|")
        tokens = group[1:-1].split("|")
        if len(tokens) != node:
            raise HarnessError(f"arch {arch!r}: node {node} needs {node} edge(s), found {len(tokens)} in {group!r}")
        for j, tok in enumerate(tokens):
            m = _TOKEN.match(tok)
            if not m:
                raise HarnessError(f"arch {arch!r}: malformed edge {tok!r} (expected op~input)")
            op, src = m.group(1), int(m.group(2))
            if op not in OPS:
                raise HarnessError(f"arch {arch!r}: unknown op {op!r}; valid: {', '.join(OPS)}")
            if src != j:
                raise HarnessError(f"arch {arch!r}: edge {tok!r} of node {node} must read from input {j}")
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
    without it enumeration is lexicographic. Rows of every benchmark table follow `enumerate()`."""

    name = "nb201"
    num_nodes = NUM_NODES
    num_choices: tuple[int, ...] = (NUM_OPS,) * NUM_NODES
    choice_names: tuple[tuple[str, ...], ...] = (OPS,) * NUM_NODES
    num_node_types = len(NODE_TYPES)     # node-type ids of `graph`: 0..4 the ops, 5 input, 6 output
    node_type_names = NODE_TYPES

    def __init__(self, order: np.ndarray | None = None):
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

    @property
    def size(self) -> int:
        return NUM_ARCHS

    def enumerate(self) -> np.ndarray:
        """All codes, row i = architecture with official index i (when built with the official order)."""
        return self._codes

    def index(self, codes) -> np.ndarray:
        """Row (official index) of each code."""
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        self.check_codes(codes)
        return self._row_of_lex[lexicographic_rank(codes, self.num_choices)]

    def check_codes(self, codes: np.ndarray) -> None:
        if codes.ndim != 2 or codes.shape[1] != NUM_NODES:
            raise HarnessError(f"codes must have shape (k, {NUM_NODES}), got {codes.shape}")
        if codes.size and (codes.min() < 0 or codes.max() >= NUM_OPS):
            raise HarnessError(f"code entries must be in 0..{NUM_OPS - 1}")

    def encode(self, arch: str) -> np.ndarray:
        return parse_arch(arch)

    def decode(self, code) -> str:
        return format_arch(code)

    # --- the cell as a graph (for graph predictors such as BRP-NAS's GCN) ------------------------
    def graph(self, codes, prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Codes (K, 6) -> (adjacency (K, 8, 8) bool, node types (K, 8) int64; -1 = node dropped).

        Ops are nodes (as in SamsungLabs/eagle): node 0 is the cell input, nodes 1..6 the edge ops in
        code order, node 7 the output; adj[k, a, b] = node a feeds node b (no self-loops). With
        `prune` (eagle; right for accuracy) `none` ops are removed, `skip_connect` ops contracted
        into direct edges and nodes off every input->output path dropped (type -1, no edges; the
        matrix keeps its size), so equivalent cells share a graph; input and output keep their type
        even in a cell without any path. Without it every op is a node (right for latency)."""
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        self.check_codes(codes)
        return cell_graphs(codes, prune)


def _cell_dag() -> np.ndarray:
    """8x8 DAG of the cell with ops on nodes: M[a, b] = True when node a feeds node b."""
    m = np.zeros((NUM_NODES + 2, NUM_NODES + 2), dtype=bool)
    out = NUM_NODES + 1
    last = max(d for d, _ in EDGES)
    for k, (dst, src) in enumerate(EDGES):
        if src == 0:
            m[0, k + 1] = True
        for l, (_, src2) in enumerate(EDGES):
            if src2 == dst:
                m[k + 1, l + 1] = True
        if dst == last:
            m[k + 1, out] = True
    return m


def cell_graphs(codes: np.ndarray, prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised `NB201Space.graph` without the code check."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    k = codes.shape[0]
    m = np.broadcast_to(_cell_dag(), (k, NUM_NODES + 2, NUM_NODES + 2)).copy()
    types = np.empty((k, NUM_NODES + 2), dtype=np.int64)
    types[:, 0], types[:, -1] = INPUT_TYPE, OUTPUT_TYPE
    types[:, 1:-1] = codes
    if not prune:
        return m, types
    for j in range(NUM_NODES):           # topological order, as eagle
        n = j + 1
        none = codes[:, j] == NONE_OP
        skip = codes[:, j] == SKIP_OP
        pred, succ = m[:, :, n].copy(), m[:, n, :].copy()
        m |= skip[:, None, None] & pred[:, :, None] & succ[:, None, :]
        gone = none | skip
        m[gone, n, :] = False
        m[gone, :, n] = False
    fw = np.zeros((k, NUM_NODES + 2), dtype=bool)
    bw = np.zeros_like(fw)
    fw[:, 0], bw[:, -1] = True, True
    for _ in range(NUM_NODES + 2):
        fw |= np.any(fw[:, :, None] & m, axis=1)
        bw |= np.any(m & bw[:, None, :], axis=2)
    keep = fw & bw
    m &= keep[:, :, None] & keep[:, None, :]
    types[~keep] = -1
    types[:, 0], types[:, -1] = INPUT_TYPE, OUTPUT_TYPE   # eagle keeps their labels even when the cell is empty
    return m, types
