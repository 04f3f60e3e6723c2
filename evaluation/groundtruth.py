"""Exact ground truth by vectorised enumeration: the true constrained optimum and the Pareto front.

`ground_truth(dataset, device, sources, space=...)` puts a space's tables and a device profile together
into one read-only core.truth.GroundTruth (once per process). Everything a method finds is scored
against `optimum` and `pareto_front`; nothing here is estimated.

Hardware-only tasks (FBNet, OFA: no accuracy) take their row splits from the space (`split_mask`), and a
device that knows any code exactly (`DeviceProfile.exact`) answers codes outside the table. Their
`optimum` maximises the space's declared size index (`size_proxy`: the biggest network that meets the
limits; ties go to the lower latency, then the lower row); without one it is refused in one line.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.errors import HarnessError, shown, unknown_name
from core.protocols import Task
from core.sources import Sources
from core.truth import GroundTruth
from core.validation import COST_METRICS, check_limits
from devices import get_profile
from spaces import load_space

UNITS = {"accuracy": "%", "latency": "ms", "energy": "mJ", "flops": "MACs", "params": "params"}


_PRELOADED: dict[tuple[str, str, str], GroundTruth] = {}


def ground_truth(dataset: str, device: str, data=None, space: str = "nb201") -> GroundTruth:
    """The truth of `dataset` on `device` for `space` (data: a NB201 folder path or a core.sources.Sources)."""
    if (space, dataset, device) in _PRELOADED:
        return _PRELOADED[(space, dataset, device)]
    return _ground_truth(space, dataset, device, Sources.of(data).resolve())


def preload(truths) -> None:
    """Serve these GroundTruths without reading any file (a sandboxed worker gets its truth this way, so the
    code it runs finds no ground-truth file to open)."""
    for gt in truths:
        _PRELOADED[(gt.space.name, gt.dataset, gt.device)] = gt


@lru_cache(maxsize=64)
def _ground_truth(space_name: str, dataset: str, device: str, sources: Sources) -> GroundTruth:
    space = load_space(space_name, sources)
    if dataset not in space.tasks:
        raise HarnessError(f"unknown dataset {shown(dataset)} of space {space_name}; valid: "
                           f"{', '.join(sorted(space.tasks))}")
    profile = get_profile(device, sources)
    hw = {k: np.asarray(v, dtype=np.float64) for k, v in profile.values(space, dataset, sources).items()}
    task = space.tasks[dataset]
    costs = space.block_costs(dataset)
    codes = space.enumerate()
    published = space.row_costs(dataset) if costs is None and hasattr(space, "row_costs") else {}
    units = {m: profile.units.get(m, UNITS[m]) for m in hw}
    units["accuracy"] = task.unit
    rows = {}
    if not task.has_accuracy and hasattr(space, "split_mask"):
        rows = {"search_rows": space.split_mask(dataset, task.search_split),
                "score_rows": space.split_mask(dataset, task.score_split)}
    outside = None
    if profile.answers_any_code(space.name):
        def outside(metric: str, codes) -> np.ndarray:
            values = profile.exact_values(space, dataset, codes, sources)
            if metric not in values:
                raise HarnessError(f"device {device!r} has no exact {metric} for codes outside the table")
            return np.asarray(values[metric], dtype=np.float64)
    return GroundTruth(
        space=space, dataset=dataset, device=device, task=task,
        accuracy=space.accuracy(dataset, task.score_split) if task.has_accuracy else None,
        search_accuracy=space.accuracy(dataset, task.search_split) if task.has_accuracy else None,
        flops=published.get("flops") if costs is None else costs.flops(codes),
        params=published.get("params") if costs is None else costs.params(codes),
        latency=hw.get("latency"), energy=hw.get("energy"), units=units, device_live=profile.live,
        sources=sources, outside=outside, **rows)


ground_truth.cache_clear = _ground_truth.cache_clear


def task_of(gt: GroundTruth) -> Task:
    return gt.task if gt.task is not None else Task(gt.dataset)


def raw_metric(gt: GroundTruth, oriented) -> float | None:
    """The task's metric as the benchmark reports it (a loss, not its negation), from an oriented accuracy."""
    return None if oriented is None else task_of(gt).raw(float(oriented))


def metric_info(gt: GroundTruth) -> dict:
    """What the accuracy slot means on this task (shown beside oriented values in reports and the CLI)."""
    t = task_of(gt)
    return {"metric": t.metric, "metric_unit": t.unit, "direction": t.direction}


def measured_mask(gt: GroundTruth) -> np.ndarray:
    return gt.measured_mask()


def feasible_mask(gt: GroundTruth, limits: dict[str, float]) -> np.ndarray:
    return gt.feasible_mask(limits)


@dataclass(frozen=True)
class Optimum:
    row: int
    arch: str
    accuracy: float | None             # None on hardware-only tasks
    latency: float | None
    energy: float | None
    flops: float | None
    params: float | None
    feasible_count: int
    objective: str = "accuracy"        # what was maximised (hardware-only tasks: the size index)
    objective_value: float | None = None

    def as_dict(self) -> dict:
        return {"arch": self.arch, "arch_index": self.row, "accuracy": self.accuracy, "latency": self.latency,
                "energy": self.energy, "flops": self.flops, "params": self.params,
                "feasible_count": self.feasible_count, "objective": self.objective,
                "objective_value": self.accuracy if self.objective_value is None else self.objective_value}


SIZE_OBJECTIVE = "size index (the space's size_proxy)"


def size_index(gt: GroundTruth) -> np.ndarray:
    """Per row, the space's declared size index: the objective of hardware-only optima."""
    proxy = getattr(gt.space, "size_proxy", None)
    if proxy is None:
        raise HarnessError(f"{gt.space.name}/{gt.dataset} has no accuracy and the space declares no size index: "
                           f"there is nothing to maximise (hardware costs only)")
    blocks = proxy(gt.dataset)
    codes = gt.codes
    return sum(np.asarray(b, dtype=np.float64)[codes[:, i]] for i, b in enumerate(blocks))


def metric_units(gt: GroundTruth, metric: str) -> str:
    """Units of a metric on this device (analytic profiles put MMACs/Mparams in the latency slot)."""
    return gt.unit(metric)


def infeasible_message(gt: GroundTruth, limits: dict[str, float]) -> str:
    """Name the limit that cannot be met and the smallest value that can (given the other limits)."""
    parts = []
    for metric, value in limits.items():
        others = gt.feasible_mask({k: v for k, v in limits.items() if k != metric})
        if not others.any():
            continue
        smallest = float(np.nanmin(gt.metric(metric)[others]))
        parts.append(f"{metric} <= {value:g} {gt.unit(metric)} (smallest feasible: {smallest:.6g})")
    detail = "; ".join(parts) if parts else "the limits cannot be met together"
    where = f"{gt.device}/{gt.dataset}" if gt.space.name == "nb201" else f"{gt.space.name}/{gt.dataset}/{gt.device}"
    return f"no architecture on {where} meets the limits: {detail}"


def _value(gt: GroundTruth, metric: str, row: int) -> float | None:
    return None if getattr(gt, metric) is None else float(getattr(gt, metric)[row])


def optimum(gt: GroundTruth, limits: dict[str, float] | None = None) -> Optimum:
    """The most accurate architecture meeting every limit (ties: lowest row).

    Hardware-only tasks: the biggest of the table's rows by the space's size index (ties: lower latency, then
    lowest row)."""
    limits = check_limits(limits)
    objective = size_index(gt) if gt.accuracy is None else None
    for metric in limits:
        gt.metric(metric)  # a limit on a metric the device lacks is a clear error
    mask = gt.feasible_mask(limits)
    count = int(mask.sum())
    if count == 0:
        raise HarnessError(infeasible_message(gt, limits))
    if objective is None:
        acc = gt.metric("accuracy")
        row = int(np.argmax(np.where(mask, acc, -np.inf)))
        extra = {"accuracy": float(acc[row])}
    else:
        rows = np.flatnonzero(mask)
        tie = gt.latency[rows] if gt.latency is not None else np.zeros(rows.size)
        row = int(rows[np.lexsort((rows, tie, -objective[rows]))[0]])
        extra = {"accuracy": None, "objective": SIZE_OBJECTIVE, "objective_value": float(objective[row])}
    return Optimum(row=row, arch=gt.space.decode(gt.codes[row]), feasible_count=count, **extra,
                   **{m: _value(gt, m, row) for m in ("latency", "energy", "flops", "params")})


def pareto_front(gt: GroundTruth, costs: tuple[str, ...] = ("latency",)) -> np.ndarray:
    """Rows not dominated in (max accuracy, min each cost), sorted by the first cost; unmeasured rows left out.

    A row is dominated if another is at least as good everywhere and strictly better somewhere."""
    costs = tuple(costs)
    if not 1 <= len(costs) <= 2:
        raise HarnessError("the Pareto front takes one or two costs")
    if len(set(costs)) != len(costs):
        raise HarnessError(f"the Pareto front's costs must differ, got {', '.join(costs)}")
    for c in costs:
        if c not in COST_METRICS:
            raise unknown_name("metric", c, COST_METRICS)
    cost = np.stack([gt.metric(c) for c in costs], axis=1)
    acc = gt.metric("accuracy")
    order = np.lexsort((-acc,) + tuple(cost[:, k] for k in reversed(range(cost.shape[1]))))
    order = order[np.all(np.isfinite(cost[order]), axis=1)]
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
