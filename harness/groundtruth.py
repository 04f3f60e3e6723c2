"""Exact ground truth by vectorised enumeration: the true constrained optimum and the Pareto front.

Everything a method finds is scored against these; nothing here is estimated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from devices.profiles import get_profile
from harness.data import check_dataset, load_tables
from harness.errors import HarnessError
from spaces.nb201 import NB201Space, format_arch

COST_METRICS = ("latency", "energy", "flops", "params")
UNITS = {"accuracy": "%", "latency": "ms", "energy": "mJ", "flops": "MACs", "params": "params"}


@dataclass(frozen=True)
class GroundTruth:
    """All true metrics of every architecture for one (dataset, device), aligned with `space.enumerate()`."""

    dataset: str
    device: str
    space: NB201Space
    accuracy: np.ndarray
    flops: np.ndarray
    params: np.ndarray
    latency: np.ndarray | None
    energy: np.ndarray | None

    @property
    def codes(self) -> np.ndarray:
        return self.space.enumerate()

    def has(self, metric: str) -> bool:
        return getattr(self, metric, None) is not None

    def metric(self, name: str) -> np.ndarray:
        if name not in ("accuracy",) + COST_METRICS:
            raise HarnessError(f"unknown metric {name!r}; valid: accuracy, {', '.join(COST_METRICS)}")
        value = getattr(self, name)
        if value is None:
            raise HarnessError(f"device {self.device!r} has no {name} measurements")
        return value


@lru_cache(maxsize=64)
def ground_truth(dataset: str, device: str, data: str | None = None) -> GroundTruth:
    """Load (once per process) the truth for a dataset on a device profile."""
    from spaces.nb201_costs import block_costs

    check_dataset(dataset)
    profile = get_profile(device)
    tables = load_tables(data)
    hw = profile.values(tables, dataset)
    codes = tables.space.enumerate()
    costs = block_costs(dataset)
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in hw.items()}
    for a in arrays.values():
        a.setflags(write=False)
    return GroundTruth(dataset=dataset, device=device, space=tables.space,
                       accuracy=tables.accuracy[dataset], flops=costs.flops(codes), params=costs.params(codes),
                       latency=arrays.get("latency"), energy=arrays.get("energy"))


def check_limits(limits: dict[str, float] | None) -> dict[str, float]:
    """Validate `{metric: max}`; drop None values."""
    out = {}
    for metric, value in (limits or {}).items():
        if value is None:
            continue
        if metric not in COST_METRICS:
            raise HarnessError(f"unknown limit {metric!r}; valid: {', '.join(COST_METRICS)}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise HarnessError(f"limit {metric} must be a number, got {value!r}") from None
        if not math.isfinite(value) or value < 0:
            raise HarnessError(f"limit {metric} <= {value} must be a finite number >= 0")
        out[metric] = value
    return out


def measured_mask(gt: GroundTruth) -> np.ndarray:
    """Rows with every hardware metric known (live and user profiles leave unmeasured rows NaN)."""
    mask = np.ones(gt.accuracy.shape[0], dtype=bool)
    for values in (gt.latency, gt.energy):
        if values is not None:
            mask &= ~np.isnan(values)
    return mask


def feasible_mask(gt: GroundTruth, limits: dict[str, float]) -> np.ndarray:
    """Rows meeting every limit, among the measured rows (an unmeasured row is never called feasible)."""
    mask = measured_mask(gt)
    for metric, value in check_limits(limits).items():
        mask &= gt.metric(metric) <= value
    return mask


@dataclass(frozen=True)
class Optimum:
    row: int
    arch: str
    accuracy: float
    latency: float | None
    energy: float | None
    flops: float
    params: float
    feasible_count: int

    def as_dict(self) -> dict:
        return {"arch": self.arch, "arch_index": self.row, "accuracy": self.accuracy, "latency": self.latency,
                "energy": self.energy, "flops": self.flops, "params": self.params,
                "feasible_count": self.feasible_count}


def metric_units(gt: GroundTruth, metric: str) -> str:
    """Units of a metric on this device (analytic profiles put MMACs/Mparams in the latency slot)."""
    if metric in ("latency", "energy"):
        return get_profile(gt.device).units.get(metric, UNITS[metric])
    return UNITS[metric]


def infeasible_message(gt: GroundTruth, limits: dict[str, float]) -> str:
    """Name the limit that cannot be met and the smallest value that can (given the other limits)."""
    parts = []
    for metric, value in limits.items():
        others = feasible_mask(gt, {k: v for k, v in limits.items() if k != metric})
        if not others.any():
            continue
        smallest = float(np.nanmin(gt.metric(metric)[others]))
        parts.append(f"{metric} <= {value:g} {metric_units(gt, metric)} (smallest feasible: {smallest:.6g})")
    detail = "; ".join(parts) if parts else "the limits cannot be met together"
    return f"no architecture on {gt.device}/{gt.dataset} meets the limits: {detail}"


def optimum(gt: GroundTruth, limits: dict[str, float] | None = None) -> Optimum:
    """The most accurate architecture meeting every limit (ties: lowest official index)."""
    limits = check_limits(limits)
    mask = feasible_mask(gt, limits)
    count = int(mask.sum())
    if count == 0:
        raise HarnessError(infeasible_message(gt, limits))
    row = int(np.argmax(np.where(mask, gt.accuracy, -np.inf)))
    return Optimum(row=row, arch=format_arch(gt.codes[row]), accuracy=float(gt.accuracy[row]),
                   latency=None if gt.latency is None else float(gt.latency[row]),
                   energy=None if gt.energy is None else float(gt.energy[row]),
                   flops=float(gt.flops[row]), params=float(gt.params[row]), feasible_count=count)


def pareto_front(gt: GroundTruth, costs: tuple[str, ...] = ("latency",)) -> np.ndarray:
    """Rows not dominated in (max accuracy, min each cost), sorted by the first cost.

    A row is dominated if another is at least as good everywhere and strictly better somewhere.
    """
    if not 1 <= len(costs) <= 2:
        raise HarnessError("the Pareto front takes one or two costs")
    cost = np.stack([gt.metric(c) for c in costs], axis=1)
    acc = gt.accuracy
    order = np.lexsort((-acc,) + tuple(cost[:, k] for k in reversed(range(cost.shape[1]))))
    order = order[np.all(np.isfinite(cost[order]), axis=1)]  # unmeasured rows are not on the front
    if len(costs) == 1:
        best = -np.inf
        keep = []
        for r in order:
            if acc[r] > best:
                keep.append(r)
                best = acc[r]
        return np.array(keep, dtype=np.int64)
    front_rows: list[int] = []
    front = np.empty((0, 3))
    for r in order:  # sorted by cost0 then cost1 then -acc: earlier rows cannot be dominated by later ones
        p = np.array([cost[r, 0], cost[r, 1], -acc[r]])
        if front.shape[0]:
            dominated = np.all(front <= p, axis=1) & np.any(front < p, axis=1)
            same = np.all(front == p, axis=1)
            if dominated.any() or same.any():
                continue
        front_rows.append(r)
        front = np.vstack([front, p])
    return np.array(front_rows, dtype=np.int64)
