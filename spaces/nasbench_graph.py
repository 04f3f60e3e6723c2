"""NAS-Bench-Graph (Qin et al., NeurIPS 2022 D&B): the GNN macro space as blocks x choices.

A network has 4 computing nodes; node k (1..4) reads ONE earlier node (0 = the raw input) and applies one op;
every leaf (a node no other node reads) feeds the output, where the leaves are summed. A code is 5 ints:
`[link, op1, op2, op3, op4]`, `link` indexing the benchmark's 9 canonical link patterns (LINKS; "0112" means
nodes 1..4 read 0, 1, 1, 2) and op k node k's op. Arch strings are the benchmark's own `<link>:<op-op-op-op>`
(`0000:gat-gat-gat-gat`); `encode` also takes the 24 raw link patterns of the package's `Arch` (node k reads
any of 0..k-1, e.g. `0121:gcn-gin-fc-cheb`) and returns the code of their stored isomorph.

One class serves both registered spaces: `nasbench_graph` (9 ops, 8 datasets, 26,206 rows) and
`nasbench_graph_proteins` (the 5 ops gcn, sage, arma, fc, skip; 2,021 rows): the two published tables differ
only in their op list and datasets, so a second class would repeat every line.

Isomorphism: our own re-implementation of what the package's `Arch.valid_hash()` identifies (read, not
copied). A skip op is the identity, so skip nodes are contracted; what remains is a tree rooted at the raw
input whose nodes are ops, each with the number of output terms it feeds (a node read by two skip leaves is
summed twice). The package's one convention beyond that: output terms of the raw input itself are dropped
(it moves a skip that reads the input to the root, where it is the identity): `0000:skip-gat-gat-gat` is
`0111:skip-gat-gat-gat`. `canonical_key` is that tree; it agrees with the package's valid_hash on all
24 x 9^4 raw (link, ops) pairs (nas-bench-graph 1.4.0). All-skip networks compute nothing and have no row.
"""
from __future__ import annotations

import itertools
from collections import Counter
from functools import lru_cache

import numpy as np

from core.codes import check_codes, lexicographic_rank, product_codes
from core.errors import HarnessError, shown, unknown_name
from core.protocols import HIGHER, Task
from spaces.tables import TableRows

OPS9 = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")   # the package's gnn_list
OPS_PROTEINS = ("gcn", "sage", "arma", "fc", "skip")                            # its gnn_list_proteins
SKIP = "skip"
LINKS = ("0000", "0001", "0011", "0012", "0013", "0111", "0112", "0122", "0123")   # its link_list, in order
NUM_OPS_NODES = 4
NUM_GRAPH_NODES = NUM_OPS_NODES + 2     # raw input, 4 op nodes, output
DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv")
PROTEINS = ("proteins",)
SEEDS = 3
TASK_NOTE = ("node classification accuracy, mean over 3 seeds (the light file); methods see the validation split, "
             "results are scored on the test split")


def task(name: str) -> Task:
    return Task(name, "accuracy", "%", HIGHER, search_split="valid", score_split="test", seeds=SEEDS, note=TASK_NOTE)


# --- the isomorphism ---------------------------------------------------------------------------------------
def canonical_key(link, ops) -> str | None:
    """The architecture a raw (link, ops) pair computes, as a string; None when every op is skip.

    `link[k-1]` is the node node k reads (0..k-1), `ops` are op names. Each tree node is written
    `op terms (sorted children)`, terms = the output terms it feeds; the root is the raw input, its own output
    terms dropped."""
    return _key(tuple(link), tuple(ops), tuple(o == SKIP for o in ops))


def _key(link: tuple[int, ...], ops: tuple[str, ...], skip: tuple[bool, ...]) -> str | None:
    shape = _contracted(link, skip)
    if shape is None:
        return None
    text = {}
    for v, terms, children in shape:          # children before parents
        text[v] = f"{ops[v - 1] if v else ''}{terms}({','.join(sorted(text[c] for c in children))})"
    return text[0]


@lru_cache(maxsize=None)
def _contracted(link: tuple[int, ...], skip: tuple[bool, ...]) -> tuple | None:
    """The tree left once skips are contracted, for one link pattern and skip mask: (node, output terms, children)
    with children before parents; None when nothing is computed. Shared by every op labelling of the mask."""
    nodes = range(1, len(link) + 1)
    terms = Counter(_passes(link, skip, k) for k in nodes if k not in set(link))
    terms.pop(0, None)
    if not terms:
        return None
    children: dict[int, list[int]] = {}
    for k in nodes:
        if not skip[k - 1]:
            children.setdefault(_passes(link, skip, link[k - 1]), []).append(k)
    kept = [k for k in reversed(nodes) if not skip[k - 1]] + [0]     # a node reads only earlier nodes
    return tuple((v, terms.get(v, 0), tuple(children.get(v, ()))) for v in kept)


def _passes(link, skip, v: int) -> int:
    """The node whose value node v passes on: v itself, or what its chain of skips reads."""
    while v and skip[v - 1]:
        v = link[v - 1]
    return v


def link_pattern(text: str) -> tuple[int, ...]:
    return tuple(int(c) for c in text)


@lru_cache(maxsize=4)
def product_keys(ops: tuple[str, ...]) -> tuple[tuple, np.ndarray]:
    """canonical_key of every code of the product space (9 links x ops^4), in lexicographic order."""
    codes = product_codes((len(LINKS),) + (len(ops),) * NUM_OPS_NODES)
    names = list(itertools.product(ops, repeat=NUM_OPS_NODES))      # the order of the op part of `codes`
    skips = [tuple(o == SKIP for o in n) for n in names]
    keys = tuple(_key(link_pattern(p), n, s) for p in LINKS for n, s in zip(names, skips))
    return keys, codes


def isomorph_index(codes: np.ndarray, ops: tuple[str, ...]):
    """For the table's codes: (row of each product-space code or -1, {canonical key: row}, and the first two rows
    that are isomorphic or compute nothing, as (i, j) with j = -1 for the latter, else None)."""
    keys, _ = product_keys(ops)
    num_choices = (len(LINKS),) + (len(ops),) * NUM_OPS_NODES
    row_of_key: dict = {}
    for r, rank in enumerate(lexicographic_rank(codes, num_choices).tolist()):
        key = keys[rank]
        if key is None or key in row_of_key:
            return None, None, (row_of_key.get(key, r), r if key is not None else -1)
        row_of_key[key] = r
    row_of = np.array([row_of_key.get(k, -1) for k in keys], dtype=np.int64)
    return row_of, row_of_key, None


def valid_hash(codes, ops: tuple[str, ...]) -> np.ndarray:
    """The package's `hash_arch` of codes taken as they are: link index then the 4 ops' indices in the 9-op
    list, base 10 (the package always hashes with the 9-op list, proteins too)."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    in9 = np.array([OPS9.index(o) for o in ops], dtype=np.int64)
    h = codes[:, 0].copy()
    for i in range(1, codes.shape[1]):
        h = h * (len(OPS9) + 1) + in9[codes[:, i]]
    return h


# --- arch strings ------------------------------------------------------------------------------------------
def parse_arch(arch, ops: tuple[str, ...], what: str = "NAS-Bench-Graph") -> tuple[tuple[int, ...], list[int]]:
    """`<link>:<op-op-op-op>` -> (raw link pattern, op indices in `ops`); one-line errors name the bad part."""
    if not isinstance(arch, str):
        raise HarnessError(f"{what} arch: a string expected, got {type(arch).__name__}")
    parts = arch.strip().split(":")
    if len(parts) != 2:
        raise HarnessError(f"{what} arch {shown(arch)}: expected '<link>:<op-op-op-op>' such as "
                           f"'0000:gat-gat-gat-gat'")
    link, names = parts[0].strip(), parts[1].strip().split("-")
    if len(link) != NUM_OPS_NODES or not link.isdigit():
        raise HarnessError(f"{what} arch {shown(arch)}: link {shown(link)} must be 4 digits, one per node "
                           f"(the node it reads)")
    for k, c in enumerate(link, start=1):
        if int(c) >= k:
            raise HarnessError(f"{what} arch {shown(arch)}: link {link!r}: node {k} reads node {c}, but may read "
                               f"only the raw input (0) or an earlier node (1..{k - 1})")
    if len(names) != NUM_OPS_NODES:
        raise HarnessError(f"{what} arch {shown(arch)}: expected 4 ops joined by '-', found {len(names)}")
    for name in names:
        if name not in ops:
            raise HarnessError(f"{what} arch {shown(arch)}: unknown op {shown(name)}; valid: {', '.join(ops)}")
    return link_pattern(link), [ops.index(n) for n in names]


# --- the space ---------------------------------------------------------------------------------------------
class NASBenchGraphSpace(TableRows):
    """One published table of NAS-Bench-Graph as a Space (built by spaces.nasbench_graph_data from the CSV).

    `table` holds per row: codes, valid_hash, and per dataset valid/test accuracy (%) and params (millions);
    `row_of` maps every code of the product space (lexicographic rank) to its stored isomorph, -1 = none, and
    `row_of_key` every canonical_key to its row (see `isomorph_index`)."""

    num_nodes = 1 + NUM_OPS_NODES
    skip_from = None   # skip here is an identity op inside the DAG, not Eq. 9's "drop the rest of the network"

    def __init__(self, name: str, ops: tuple[str, ...], table, row_of: np.ndarray, row_of_key: dict, source: str):
        self.name, self.ops, self.source = name, tuple(ops), source
        self.num_choices = (len(LINKS),) + (len(self.ops),) * NUM_OPS_NODES
        self.choice_names = (LINKS,) + (self.ops,) * NUM_OPS_NODES
        self.num_node_types = len(self.ops) + 2     # graph(): the ops, then input and output
        self._table = table
        self._codes = table.codes
        self._row_of, self._row_of_key = row_of, row_of_key
        self.tasks = {d: task(d) for d in table.datasets}

    def check_codes(self, codes) -> np.ndarray:
        return check_codes(codes, self.num_choices, self.name)

    def _rows(self, codes) -> np.ndarray:
        return self._row_of[lexicographic_rank(codes, self.num_choices)]

    def valid(self, codes) -> np.ndarray:
        """True where a code has a stored isomorph (every code but the all-skip ones)."""
        return self._rows(self.check_codes(codes)) >= 0

    def index(self, codes) -> np.ndarray:
        """Row of each code's stored isomorph; a code without one is a one-line error saying so."""
        codes = self.check_codes(codes)
        rows = self._rows(codes)
        if rows.size and rows.min() < 0:
            bad = codes[int(np.argmax(rows < 0))]
            why = " (every op is skip: the network computes nothing)" if \
                all(self.ops[j] == SKIP for j in bad[1:]) else ""
            raise HarnessError(f"{self.name}: code {bad.tolist()} ({self.decode(bad)}) has no stored isomorph among "
                               f"the {self.size:,} architectures{why}")
        return rows

    def valid_hash(self, codes) -> np.ndarray:
        """The benchmark's valid_hash of each code (that of its stored isomorph)."""
        return self._table.valid_hash[self.index(codes)]

    def encode(self, arch: str) -> np.ndarray:
        """Arch string -> code. A canonical link gives the code as written (isomorphic codes are fine, `index` maps
        them); one of the 24 raw links gives the code of the stored isomorph."""
        link, ops = parse_arch(arch, self.ops, self.name)
        pattern = "".join(map(str, link))
        if pattern in LINKS:
            code = np.array([LINKS.index(pattern)] + ops, dtype=np.int64)
            self.index(code)      # no stored isomorph: one line, naming it
            return code
        row = self._row_of_key.get(canonical_key(link, [self.ops[j] for j in ops]))
        if row is None:
            raise HarnessError(f"{self.name} arch {shown(arch)} has no stored isomorph (every op is skip: the "
                               "network computes nothing)")
        return self._codes[row].copy()

    def decode(self, code) -> str:
        c = self.check_codes(code)[0]
        return f"{LINKS[c[0]]}:{'-'.join(self.ops[j] for j in c[1:])}"

    def sample(self, k: int, seed: int) -> np.ndarray:
        """k architectures drawn uniformly from the rows (with replacement), seeded."""
        rng = np.random.default_rng(seed)
        return self._codes[rng.integers(0, self.size, size=int(k))].copy()

    def _dataset(self, dataset: str) -> str:
        if dataset not in self.tasks:
            raise unknown_name(f"dataset of {self.name}", dataset, self.tasks)
        return dataset

    def block_costs(self, dataset: str):
        """None: FLOPs are not published, and the published params are not a per-choice sum over codes (see
        `source`); `row_costs` gives the exact published params per row."""
        self._dataset(dataset)
        return None

    def row_costs(self, dataset: str) -> dict[str, np.ndarray]:
        """Published trainable parameters of every row (absolute counts; the CSV has millions)."""
        return {"params": np.round(self._table.params[self._dataset(dataset)] * 1e6)}

    def accuracy(self, dataset: str, split: str = "test") -> np.ndarray:
        """Validation or test accuracy (%) of every row."""
        self._dataset(dataset)
        if split not in ("valid", "test"):
            raise HarnessError(f"{self.name} {dataset}: no split {shown(split)}; valid: valid, test")
        return (self._table.valid if split == "valid" else self._table.test)[dataset]

    # --- the graph (BRP-NAS's GCN) -------------------------------------------------------------------------
    def graph(self, codes, prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(adjacency (K, 6, 6) bool without self-loops, node types (K, 6) int, -1 = absent).

        Nodes: 0 raw input (type len(ops)), 1..4 the op nodes (their op), 5 output (type len(ops) + 1); node k
        reads its link, leaves feed the output. `prune` contracts skip ops so that codes with one stored
        isomorph have isomorphic graphs: a skip's readers read what it reads, a skip leaf makes what it passes
        on an output; output terms of the raw input are dropped (the benchmark's convention), and a node
        feeding the output twice keeps its second skip leaf as a node (boolean edges cannot count)."""
        codes = self.check_codes(codes)
        adj = np.zeros((codes.shape[0], NUM_GRAPH_NODES, NUM_GRAPH_NODES), dtype=bool)
        types = np.full((codes.shape[0], NUM_GRAPH_NODES), -1, dtype=np.int64)
        types[:, 0], types[:, -1] = len(self.ops), len(self.ops) + 1
        for a, t, c in zip(adj, types, codes.tolist()):
            _wire(a, t, link_pattern(LINKS[c[0]]), [self.ops[j] for j in c[1:]], c[1:], prune)
        return adj, types


def _wire(adj: np.ndarray, types: np.ndarray, link, ops, op_index, prune: bool) -> None:
    out = NUM_GRAPH_NODES - 1
    leaves = [k for k in range(1, NUM_OPS_NODES + 1) if k not in set(link)]
    if not prune:
        for k in range(1, NUM_OPS_NODES + 1):
            adj[link[k - 1], k] = True
            types[k] = op_index[k - 1]
        adj[leaves, out] = True
        return

    skip = [o == SKIP for o in ops]
    for k in range(1, NUM_OPS_NODES + 1):
        if not skip[k - 1]:
            adj[_passes(link, skip, link[k - 1]), k] = True
            types[k] = op_index[k - 1]
    feeding = set()
    for leaf in leaves:
        v = _passes(link, skip, leaf)
        if v == 0:
            continue
        if v not in feeding:
            adj[v, out] = True
            feeding.add(v)
        else:                 # a second output term of v: keep this skip leaf as a node
            adj[v, leaf] = adj[leaf, out] = True
            types[leaf] = op_index[leaf - 1]
