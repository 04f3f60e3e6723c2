"""`bnb`: our own best-first branch and bound over LP relaxations solved by
`scipy.optimize.linprog(method="highs")` - the paper's "Linprog" route, with no MILP solver at all.

- Relaxation: the shared model (milp.py) with 0 <= x <= 1.
- Branching: GUB/SOS1 branching on the most fractional node. Its still-allowed choices are ordered by
  their coefficient in the first resource row (else the objective), and split where the LP mass crosses
  one half; the two children forbid one side each, so each removes the current LP point and together
  they cover every code.
- Bounds: children inherit the parent's LP value; nodes are expanded best bound first and pruned when
  their bound cannot beat the incumbent by more than the relative gap MIP_GAP.
- Incumbents: the caller's hint (Dinkelbach passes the best code so far), integral LP solutions, and
  a rounding heuristic (per-node argmax of the LP point, kept if it satisfies every model row).
- Presolve: dominated choices are fixed to 0 (milp.dominated_choices; linear objectives only).
- Root cuts: up to CUT_ROUNDS rounds of violated Chvatal-Gomory cuts of the resource rows
  (milp.knapsack_cuts, e.g. "at most k nodes can take a choice costing more than limit / (k + 1)"),
  which close most of the knapsack integrality gap.
- Reduced-cost fixing: once an incumbent exists, a choice whose LP reduced cost shows it cannot beat
  the incumbent is fixed to 0 for the whole subtree.
`Solution.nodes` counts LP relaxations solved. Ratio objectives: Dinkelbach (default) or Charnes-Cooper.
"""
from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import replace

import numpy as np

from solvers.milp import MIP_GAP, MILPModel, RawResult, dominated_choices, knapsack_cuts, run_milp
from core.protocols import SolverBackend
from solvers.problem import ChoiceProblem, Solution

DEFAULT_RATIO = "dinkelbach"  # measured faster on the MathNAS NB201 ILPs (see benchmarks/bench_solvers.py)
INT_TOL = 1e-7
CUT_ROUNDS = 8


def available() -> tuple[bool, str]:
    try:
        from scipy.optimize import linprog  # noqa: F401
    except ImportError as e:  # pragma: no cover
        return False, f"scipy.optimize.linprog not importable: {e}"
    return True, ""


def _branch_weights(model: MILPModel) -> np.ndarray:
    limits = [r for r, k in enumerate(model.row_kinds) if k.startswith("limit:")]
    nx = model.nx
    if limits:
        return np.asarray(model.A[limits[0], :nx].todense()).ravel()
    if model.kind == "charnes-cooper":
        return model.c[nx + 1: 2 * nx + 1].copy()
    return model.c[:nx].copy()


def push(open_, item, as_heap: bool) -> None:
    if as_heap:
        heapq.heappush(open_, item)
    else:
        open_.append(item)


def _raw(model: MILPModel, time_limit: float, hint=None, threads=None, verbose=False, node_limit=None,
         cuts=True) -> RawResult:
    from scipy.optimize import linprog

    t0 = time.perf_counter()
    nx, off = model.nx, model.offsets
    w = _branch_weights(model)
    nodes = 0
    hint_z = hint_val = None
    if hint is not None:  # a known code (e.g. the previous Dinkelbach step's) is a free incumbent
        zh = model.lift(hint)
        if model.violation(zh) <= 1e-9:
            hint_z, hint_val = zh, model.value(zh)
    dominated = dominated_choices(model)
    if dominated.any():                     # fix dominated choices to 0 (exact, see milp.dominated_choices)
        ub = model.ub.copy()
        ub[:nx][dominated] = 0.0
        model = replace(model, ub=ub)
    # root: add violated knapsack cuts (milp.knapsack_cuts) for a few rounds
    for _ in range(CUT_ROUNDS if cuts else 0):
        if time.perf_counter() - t0 > time_limit:
            break
        A_ub, b_ub, A_eq, b_eq = model.inequalities()
        res = linprog(-model.c, A_ub=A_ub if A_ub.shape[0] else None, b_ub=b_ub if A_ub.shape[0] else None,
                      A_eq=A_eq, b_eq=b_eq, bounds=np.column_stack([model.lb, model.ub]), method="highs")
        nodes += 1
        if res.status != 0:
            break
        A_cut, hi = knapsack_cuts(model, res.x)
        if A_cut is None:
            break
        model = model.add_rows(A_cut, np.full(hi.size, -np.inf), hi, "cut:knapsack")
    A_ub, b_ub, A_eq, b_eq = model.inequalities()
    A_ub = A_ub if A_ub.shape[0] else None
    b_ub = b_ub if A_ub is not None else None
    tie = itertools.count()
    inc_val, inc_z = -np.inf, None
    # open nodes: (-bound, tiebreak, x upper bounds). Depth-first (LIFO) until a first incumbent, then
    # best bound first (a heap).
    open_ = [(-np.inf, next(tie), model.ub[:nx].copy())]
    if hint_z is not None:
        inc_val, inc_z = hint_val, hint_z

    def tol(v):
        return MIP_GAP * max(1.0, abs(v))

    def pop():
        return heapq.heappop(open_) if inc_z is not None else open_.pop()

    while open_:
        if inc_z is not None:
            if -open_[0][0] <= inc_val + tol(inc_val):
                open_.clear()
                break
        over = time.perf_counter() - t0 > time_limit
        if over or (node_limit is not None and nodes >= node_limit):
            bound = max(-h[0] for h in open_)
            why = "time limit" if over else f"node limit {node_limit}"
            return RawResult("time_limit" if over else "feasible", inc_z,
                             None if not np.isfinite(bound) else bound, nodes, f"bnb: {why} hit")
        neg_b, _, xub = pop()
        if inc_z is not None and -neg_b <= inc_val + tol(inc_val):
            continue
        ub = model.ub.copy()
        ub[:nx] = xub
        res = linprog(-model.c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq,
                      bounds=np.column_stack([model.lb, ub]), method="highs")
        nodes += 1
        if res.status == 2:
            continue
        if res.status != 0:
            return RawResult("error", inc_z, None, nodes, f"bnb: linprog failed: {res.message}")
        val = -float(res.fun) + model.c0
        if inc_z is not None and val <= inc_val + tol(inc_val):
            continue
        x = res.x[:nx]
        peak = np.maximum.reduceat(x, off[:-1])
        frac = np.flatnonzero(peak < 1 - INT_TOL)
        if frac.size == 0:
            had = inc_z is not None
            inc_val, inc_z = val, res.x.copy()
            if not had:
                heapq.heapify(open_)
            continue
        # rounding heuristic
        zr = model.lift(model.decode(res.x))
        if model.violation(zr) <= 1e-9:
            vr = model.value(zr)
            if vr > inc_val:
                if inc_z is None:
                    heapq.heapify(open_)
                inc_val, inc_z = vr, zr
        xub = xub.copy()
        if inc_z is not None:  # reduced-cost fixing, valid for the whole subtree
            gain_lo = res.lower.marginals[:nx]    # objective lost per unit raising x_j from 0
            gain_up = -res.upper.marginals[:nx]   # objective lost per unit lowering x_j from 1
            xub[(x <= INT_TOL) & (val - gain_lo <= inc_val + tol(inc_val))] = 0.0
            for j in np.flatnonzero((x >= 1 - INT_TOL) & (gain_up > 0) & (val - gain_up <= inc_val + tol(inc_val))):
                i = int(np.searchsorted(off, j, side="right") - 1)
                keep = xub[j]
                xub[off[i]:off[i + 1]] = 0.0
                xub[j] = keep
        # GUB branching on the most fractional node
        i = int(frac[np.argmin(peak[frac])])
        idx = np.arange(off[i], off[i + 1])
        idx = idx[xub[idx] > 0]
        if idx.size < 2:       # fixing left a single choice here: re-solve the node with the fixings
            push(open_, (-val, next(tie), xub), inc_z is not None)
            continue
        order = idx[np.lexsort((idx, w[idx]))]
        mass = np.cumsum(x[order])
        cut = int(np.argmin(np.abs(mass[:-1] - 0.5))) + 1
        if mass[cut - 1] <= INT_TOL or mass[-1] - mass[cut - 1] <= INT_TOL:   # both sides must hold LP mass
            pos = np.flatnonzero(x[order] > INT_TOL)
            cut = int(pos[0]) + 1 if pos.size >= 2 else cut
        left, right = xub.copy(), xub.copy()
        left[order[cut:]] = 0.0     # choose among the first part
        right[order[:cut]] = 0.0    # choose among the rest
        kids = [right, left] if mass[cut - 1] >= 0.5 else [left, right]   # likelier child popped first (DFS)
        for child in kids:
            push(open_, (-val, next(tie), child), inc_z is not None)
    if inc_z is None:
        return RawResult("infeasible", None, None, nodes, "bnb: no code meets every constraint")
    return RawResult("optimal", inc_z, inc_val, nodes)


def solve_bnb(problem: ChoiceProblem, time_limit: float | None = 60.0, **options) -> Solution:
    """Options: ratio ("dinkelbach" | "charnes-cooper"), node_limit (LPs per MILP solve),
    cuts (root knapsack cuts, default True)."""
    return run_milp(problem, "bnb", _raw, time_limit, default_ratio=DEFAULT_RATIO,
                    allowed_options=("node_limit", "cuts"), **options)


backend = SolverBackend("bnb", solve=solve_bnb, available=available, description="our own LP-based branch-and-bound (scipy linprog)")
