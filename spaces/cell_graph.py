"""The graph of a NAS-Bench-201-style cell with operations on nodes (as BRP-NAS/SamsungLabs eagle encode it).

A cell has nodes 0..3 joined by edges `(to, from)` in code order, each carrying one operation. As a graph the
operations are the nodes: node 0 is the cell input, nodes 1..E the edge operations in code order, node E+1
the output; operation a feeds operation b when a's edge ends where b's edge starts. Node types: the op index
(0..num_ops-1), num_ops for the input, num_ops + 1 for the output. Shared by every space with this cell
(NAS-Bench-201, TransNAS-Bench-101 micro) and by BRP-NAS's GCN (baselines.gcn).
"""
from __future__ import annotations

import numpy as np


def cell_dag(edges) -> np.ndarray:
    """(E+2, E+2) DAG of the cell with ops on nodes: M[a, b] = True when node a feeds node b."""
    e = len(edges)
    m = np.zeros((e + 2, e + 2), dtype=bool)
    last = max(d for d, _ in edges)
    for k, (dst, src) in enumerate(edges):
        if src == 0:
            m[0, k + 1] = True
        for j, (_, src2) in enumerate(edges):
            if src2 == dst:
                m[k + 1, j + 1] = True
        if dst == last:
            m[k + 1, e + 1] = True
    return m


def cell_graphs(codes, edges, num_ops: int, none_op: int, skip_op: int,
                prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised: codes (K, E) -> (adjacency (K, E+2, E+2) bool without self-loops, node types (K, E+2), -1 =
    dropped). With `prune` (eagle; right for accuracy) `none_op` ops are removed, `skip_op` ops contracted into
    direct edges and nodes off every input->output path dropped (the matrix keeps its size), so equivalent
    cells share a graph; input and output keep their type even in a cell without any path."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    k, e = codes.shape[0], len(edges)
    m = np.broadcast_to(cell_dag(edges), (k, e + 2, e + 2)).copy()
    types = np.empty((k, e + 2), dtype=np.int64)
    types[:, 0], types[:, -1] = num_ops, num_ops + 1
    types[:, 1:-1] = codes
    if not prune:
        return m, types
    for j in range(e):                   # topological order, as eagle
        n = j + 1
        none = codes[:, j] == none_op
        skip = codes[:, j] == skip_op
        pred, succ = m[:, :, n].copy(), m[:, n, :].copy()
        m |= skip[:, None, None] & pred[:, :, None] & succ[:, None, :]
        gone = none | skip
        m[gone, n, :] = False
        m[gone, :, n] = False
    fw = np.zeros((k, e + 2), dtype=bool)
    bw = np.zeros_like(fw)
    fw[:, 0], bw[:, -1] = True, True
    for _ in range(e + 2):
        fw |= np.any(fw[:, :, None] & m, axis=1)
        bw |= np.any(m & bw[:, None, :], axis=2)
    keep = fw & bw
    m &= keep[:, :, None] & keep[:, None, :]
    types[~keep] = -1
    types[:, 0], types[:, -1] = num_ops, num_ops + 1   # eagle keeps their labels even when the cell is empty
    return m, types
