"""How additive is a device's latency/energy over blocks? (the premise of MathNAS, paper Fig. 1)

MathNAS predicts a network's cost as the base network's cost plus one term per block switch (Eq. 5):
    pred(a) = y(N_base) + sum_i d[i, a_i],   d[i, j] = change when node i switches from base_i to j,
with base_i the largest-FLOPs choice of node i (ties: the later choice) and N_base the network of all base
choices. Variants of d:
  single  Algorithm 1, one sweep around N_avg (per node the choice whose FLOPs are closest to that node's
          mean choice FLOPs; ties: the earlier choice): d[i, j] = y(N_avg, i <- j) - y(N_avg, i <- base_i);
  full    averaged over every context: d[i, j] = mean y(node i = j) - mean y(node i = base_i). On a complete
          table this is exactly the average of the switch difference over all 5^5 contexts; on a random
          measured sample (local-cpu, user files) it is the same estimator over the rows we have: unbiased
          but noisy, since the other nodes are not balanced within a small sample.
  ceiling the best additive model in the least-squares sense (intercept + one-hot blocks, numpy lstsq).
These are the definitions of mathnas.blocks/mathnas.variants, whose own `single`/`full` produce the
predictions by default (so the report judges the method's actual code); the vectorised numpy below is
the independent reference, and tests check that both agree.

Since single and full are additive models too, the ceiling has the smallest MSE of the three on the rows it
is fitted to (guaranteed); its Kendall tau and MAPE are usually, not provably, the best. On a complete table
`full` equals the ceiling up to a constant shift (a balanced factorial design), so their taus coincide.
NaN rows (not measured) are left out.

Spaces whose table holds published samples of a larger space (FBNet, OFA; they have `lookup`): base and N_avg
come from the space's size index where it has no FLOPs, `full` is the marginal means over the table's rows,
anchored on the marginal model's own base value (mean + main effects; the base network is not in the table),
and `single` needs a device that knows every code exactly (`exact`, FBNet's lookup tables): elsewhere it is
reported as n/a. `ceiling_r2` is the coefficient of determination of the least-squares additive model.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Callable

import numpy as np

from core.errors import HarnessError
from core.metrics import kendall_tau, mape, mse
from core.protocols import BlockCosts
from mathnas.blocks import FunctionEvaluator, Profiler, SpaceSpec
from mathnas.variants import run_variant

VARIANTS = ("single", "full")


@dataclass(frozen=True)
class Context:
    """What the block sums need about the space: codes, choice counts, base choices and N_avg."""

    codes: np.ndarray  # (N, m) codes in row order
    num_choices: tuple[int, ...]
    base: np.ndarray  # (m,) largest-FLOPs choice per node
    avg: np.ndarray  # (m,) N_avg, the network profiled around by `single`

    def switched(self, code: np.ndarray) -> np.ndarray:
        """Codes of `code` with node i switched to j, for every (i, j): shape (m, n, m)."""
        m, n = len(self.num_choices), max(self.num_choices)
        out = np.broadcast_to(code, (m, n, m)).copy()
        for i, k in enumerate(self.num_choices):   # beyond a node's own choices: the code itself (never used)
            out[i, :k, i] = np.arange(k)
        return out


def context(space, flops_blocks) -> Context:
    """Base choices (largest FLOPs, ties: later) and N_avg (closest to the node's mean choice FLOPs, ties: earlier)."""
    blocks = [np.asarray(b, dtype=np.float64) for b in flops_blocks]
    base = np.array([b.size - 1 - int(np.argmax(b[::-1])) for b in blocks], dtype=np.int64)
    avg = np.array([int(np.argmin(np.abs(b - b.mean()))) for b in blocks], dtype=np.int64)
    return Context(space.enumerate(), tuple(space.num_choices), base, avg)


def complete(space) -> bool:
    """Whether the table has a row for every code (NB201, synthetic), not only published samples."""
    return not hasattr(space, "lookup") and space.size == prod(space.num_choices)


def size_blocks(space, costs, dataset: str | None = None) -> tuple[np.ndarray, ...]:
    """Per-choice FLOPs, else the space's size index: what picks the base and N_avg choices."""
    if costs is not None:
        return tuple(costs.block_flops)
    if callable(getattr(space, "size_proxy", None)):
        return tuple(space.size_proxy(dataset))
    raise HarnessError(f"space {space.name!r} has neither FLOPs nor a size index to pick base networks by")


def value_of(y: np.ndarray, space, exact: Callable | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """codes -> truth: the table's row where it has one, else the device's exact value (NaN without one)."""
    def values(codes) -> np.ndarray:
        codes = np.atleast_2d(codes)
        rows = space.lookup(codes) if hasattr(space, "lookup") else space.index(codes)
        out = np.full(rows.size, np.nan)
        out[rows >= 0] = y[rows[rows >= 0]]
        if exact is not None and (rows < 0).any():
            out[rows < 0] = exact(codes[rows < 0])
        return out
    return values


def profiling_rows(space, ctx: Context) -> np.ndarray:
    """Rows `single` needs measured: the base network and every one-block switch of N_avg."""
    switched = ctx.switched(ctx.avg).reshape(-1, len(ctx.num_choices))
    return np.unique(space.index(np.vstack([ctx.base[None, :], switched])))


def deltas_single(y: np.ndarray, space, ctx: Context, exact: Callable | None = None) -> np.ndarray:
    """d[i, j] around N_avg (NaN when a needed network is not measured)."""
    m = len(ctx.num_choices)
    sw = ctx.switched(ctx.avg)
    vals = value_of(y, space, exact)(sw.reshape(-1, m)).reshape(sw.shape[:2])  # (m, n): y(N_avg with i <- j)
    return vals - vals[np.arange(m), ctx.base][:, None]


def deltas_full(y: np.ndarray, rows: np.ndarray, ctx: Context) -> np.ndarray:
    """d[i, j] = mean over the given rows with node i = j minus that with node i = base_i."""
    m, n = len(ctx.num_choices), max(ctx.num_choices)
    codes = ctx.codes[rows]
    d = np.empty((m, n))
    for i in range(m):
        sums = np.bincount(codes[:, i], weights=y[rows], minlength=n)
        counts = np.bincount(codes[:, i], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / counts
        d[i] = means - means[ctx.base[i]]
    return d


def block_sum(deltas: np.ndarray, anchor: float, codes: np.ndarray) -> np.ndarray:
    """pred = anchor + sum_i deltas[i, code_i]."""
    m = deltas.shape[0]
    return anchor + deltas[np.arange(m)[None, :], codes].sum(axis=1)


def marginal_anchor(y: np.ndarray, rows: np.ndarray, ctx: Context) -> float:
    """The marginal model's value of the base network: mean + sum_i (mean over node i = base_i - mean)."""
    codes, mean = ctx.codes[rows], float(np.mean(y[rows]))
    return mean + float(sum(np.mean(y[rows][codes[:, i] == b]) - mean for i, b in enumerate(ctx.base)))


def reference_predictions(y: np.ndarray, space, ctx: Context, rows: np.ndarray,
                          exact: Callable | None = None) -> dict[str, np.ndarray]:
    """`single` and `full` predictions for `rows`, vectorised numpy straight from the truth array."""
    codes = ctx.codes[rows]
    anchor = float(value_of(y, space, exact)(ctx.base[None, :])[0])
    whole = complete(space)
    single = block_sum(deltas_single(y, space, ctx, exact), anchor, codes) if whole or exact is not None else \
        np.full(rows.size, np.nan)
    return {"single": single,
            "full": block_sum(deltas_full(y, rows, ctx), anchor if whole else marginal_anchor(y, rows, ctx), codes)}


def mathnas_predictions(y: np.ndarray, space, costs, rows: np.ndarray, metric: str = "latency",
                        exact: Callable | None = None) -> dict[str, np.ndarray]:
    """The same predictions from mathnas.variants' own `single` and `full` (profiling `metric` only)."""
    blocks = size_blocks(space, costs)
    spec = SpaceSpec(num_choices=tuple(space.num_choices), name=space.name,
                     costs=costs if costs is not None else BlockCosts(blocks, 0.0, blocks, 0.0))
    values = value_of(y, space, exact)

    def profiler():
        return Profiler(spec, FunctionEvaluator(lambda name, codes: values(codes), metrics=(metric,)), base="largest")

    codes = space.enumerate()[rows]
    whole = complete(space)
    out = {"single": run_variant("single", profiler()).predict(codes)[metric] if whole or exact is not None else
           np.full(rows.size, np.nan)}
    if whole and rows.size == y.size:
        full = run_variant("full", profiler())
    else:  # a measured sample or a table of samples: Eq. 3 over the rows we have (what mathnas' `sampled` does)
        prof = profiler()
        blocks = prof.marginal(codes, {metric: y[rows]})
        anchor = None if whole else prof.marginal_anchor(codes, {metric: y[rows]})
        full = prof.tables(blocks, ref_flops=1.0, variant="full", base_value=anchor)
    out["full"] = full.predict(codes)[metric]
    return out


def least_squares(y: np.ndarray, codes: np.ndarray, num_choices) -> np.ndarray:
    """Fitted values of the best additive model: intercept + one-hot block indicators, numpy lstsq."""
    offsets = np.concatenate([[0], np.cumsum(num_choices)[:-1]])
    X = np.zeros((codes.shape[0], 1 + int(np.sum(num_choices))))
    X[:, 0] = 1.0
    X[np.arange(codes.shape[0])[:, None], 1 + offsets[None, :] + codes] = 1.0
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return X @ coef


def _scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    if not np.all(np.isfinite(pred)):
        return {"kendall_tau": float("nan"), "mape": float("nan"), "mse": float("nan"), "r2": float("nan")}
    # Round away float noise (1e-9 of the scale): sums of equal terms in another order, or lstsq fits,
    # would otherwise split true ties (FLOPs, whole-ms phones) and lower Kendall tau-b spuriously.
    scale = float(np.max(np.abs(true))) or 1.0
    pred = np.round(pred / scale, 9) * scale
    r2 = 1.0 - float(np.sum((true - pred) ** 2)) / max(float(np.sum((true - np.mean(true)) ** 2)), 1e-300)
    return {"kendall_tau": kendall_tau(pred, true), "mape": mape(pred, true), "mse": mse(pred, true), "r2": r2}


def evaluation_rows(y: np.ndarray, space, ctx: Context) -> np.ndarray:
    """Every row of a complete table (or of a table of samples); on a measured sample of a complete table the
    measured rows minus the profiling networks, so `single` is never scored on the networks it was built from."""
    rows = np.flatnonzero(np.isfinite(y))
    if rows.size < y.size and complete(space):
        rows = np.setdiff1d(rows, profiling_rows(space, ctx))
    if rows.size < 2 * sum(ctx.num_choices):
        raise HarnessError(f"additivity needs at least {2 * sum(ctx.num_choices)} measured architectures besides "
                           f"the profiling networks, found {rows.size}")
    return rows


def report(y: np.ndarray, space, costs, metric: str = "latency", implementation: str = "auto",
           exact: Callable | None = None) -> list[dict]:
    """Scores of single, full and the least-squares ceiling against truth `y` (one value per row of `space`).

    costs: the space's BlockCosts, or None (then its size index picks base and N_avg); exact: codes -> the
    device's exact value for codes without a row (tables of samples; without it `single` is n/a there).
    implementation: "mathnas" (mathnas.variants, also "auto") or "numpy" (the reference here)."""
    y = np.asarray(y, dtype=np.float64)
    ctx = context(space, size_blocks(space, costs))
    rows = evaluation_rows(y, space, ctx)
    if implementation in ("auto", "mathnas"):
        preds, used = mathnas_predictions(y, space, costs, rows, metric, exact), "mathnas.variants"
    else:
        preds, used = reference_predictions(y, space, ctx, rows, exact), "analyses.additivity"
    true = y[rows]
    ceiling = _scores(least_squares(true, ctx.codes[rows], ctx.num_choices), true)
    return [{"metric": metric, "variant": v, **_scores(preds[v], true), "ceiling_kendall_tau": ceiling["kendall_tau"],
             "ceiling_mape": ceiling["mape"], "ceiling_mse": ceiling["mse"], "ceiling_r2": ceiling["r2"],
             "rows": int(rows.size), "implementation": used} for v in VARIANTS]
