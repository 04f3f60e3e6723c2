"""GroundTruth: every true metric of every row of one (space, dataset, device), read-only.

Arrays are aligned with `space.enumerate()`. `accuracy` is the score split (what results are scored on),
`search_accuracy` the split methods may see through the Oracle (the same array where the benchmark has
only one). Live and user device profiles leave unmeasured rows NaN: never feasible, never on a front.

Hardware-only tasks split ROWS instead (core.protocols.Task): `search_rows` marks the rows a method may
query, `score_rows` those results are scored on (None: every row). Where the table holds only published
samples of a larger space, `outside(metric, codes)` gives the exact value of codes WITHOUT a row when the
device knows it (FBNet's lookup tables); None: such codes cannot be answered.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from core.errors import HarnessError
from core.protocols import Task
from core.validation import COST_METRICS, check_limits

METRICS = ("accuracy",) + COST_METRICS
DEFAULT_UNITS = {"accuracy": "%", "latency": "ms", "energy": "mJ", "flops": "MACs", "params": "params"}


@dataclass(frozen=True)
class GroundTruth:
    space: object                      # a core.protocols.Space
    dataset: str
    device: str
    accuracy: np.ndarray | None        # score split; None on hardware-only spaces
    flops: np.ndarray | None
    params: np.ndarray | None
    latency: np.ndarray | None
    energy: np.ndarray | None
    search_accuracy: np.ndarray | None = None
    task: Task | None = None
    units: dict = field(default_factory=dict)
    device_live: bool = False
    sources: object = None             # the core.sources.Sources it was read from (live profiles measure there)
    search_rows: np.ndarray | None = None   # bool per row: a method may query it (None: all rows)
    score_rows: np.ndarray | None = None    # bool per row: results are scored on it (None: all rows)
    outside: Callable[[str, np.ndarray], np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.search_accuracy is None:
            object.__setattr__(self, "search_accuracy", self.accuracy)
        object.__setattr__(self, "units", {**DEFAULT_UNITS, **(self.units or {})})
        for name in METRICS + ("search_accuracy",):
            a = getattr(self, name)
            if a is not None:
                a = np.asarray(a, dtype=np.float64)
                if a.shape != (self.space.size,):
                    raise HarnessError(f"{self.space.name}/{self.dataset}/{self.device}: {name} has shape {a.shape}, "
                                       f"expected ({self.space.size},)")
                a.setflags(write=False)
                object.__setattr__(self, name, a)
        for name in ("search_rows", "score_rows"):
            a = getattr(self, name)
            if a is not None:
                a = np.asarray(a, dtype=bool)
                if a.shape != (self.space.size,) or not a.any():
                    raise HarnessError(f"{self.space.name}/{self.dataset}: {name} must mark some of the "
                                       f"{self.space.size} rows, got shape {a.shape}")
                a.setflags(write=False)
                object.__setattr__(self, name, a)
        if self.outside is not None and not hasattr(self.space, "lookup"):
            raise HarnessError(f"space {self.space.name!r}: answering codes outside the table needs `lookup`")

    @property
    def codes(self) -> np.ndarray:
        return self.space.enumerate()

    @property
    def size(self) -> int:
        return self.space.size

    def has(self, metric: str) -> bool:
        return getattr(self, metric, None) is not None if metric in METRICS else False

    def metric(self, name: str) -> np.ndarray:
        if name not in METRICS:
            raise HarnessError(f"unknown metric {name!r}; valid: {', '.join(METRICS)}")
        value = getattr(self, name)
        if value is None:
            where = f"device {self.device!r}" if name in ("latency", "energy") else f"space {self.space.name!r}"
            raise HarnessError(f"{where} has no {name} measurements")
        return value

    def unit(self, metric: str) -> str:
        return self.units.get(metric, "")

    def measured_mask(self) -> np.ndarray:
        """Rows with every hardware metric known (live and user profiles leave unmeasured rows NaN)."""
        mask = np.ones(self.size, dtype=bool)
        for values in (self.latency, self.energy):
            if values is not None:
                mask &= ~np.isnan(values)
        return mask

    def scored_mask(self) -> np.ndarray:
        """Rows results are scored on: the score split's rows (all rows where the task has none)."""
        return np.ones(self.size, dtype=bool) if self.score_rows is None else self.score_rows.copy()

    def feasible_mask(self, limits: dict) -> np.ndarray:
        """Rows meeting every limit, among the measured rows (an unmeasured row is never called feasible)."""
        mask = self.measured_mask()
        for metric, value in check_limits(limits).items():
            mask &= self.metric(metric) <= value
        return mask
