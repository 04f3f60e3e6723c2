"""The only door through which a method sees ground truth; budgets are enforced here.

Accuracy queries cost what a real user pays (training a network), so every DISTINCT architecture
evaluated is counted once; hardware queries (latency/energy) are counted separately. FLOPs and params
are analytic and free.
"""
from __future__ import annotations

import numpy as np

from harness.errors import HarnessError
from harness.groundtruth import GroundTruth


class BudgetExhausted(HarnessError):
    """A method asked for more distinct evaluations than its budget allows."""


class Oracle:
    def __init__(self, gt: GroundTruth, budget: int | None = None, hw_budget: int | None = None):
        for name, b in (("budget", budget), ("hardware budget", hw_budget)):
            if b is not None and (int(b) != b or b < 0):
                raise HarnessError(f"{name} must be a whole number >= 0, got {b!r}")
        self.gt = gt
        self.budget = None if budget is None else int(budget)
        self.hw_budget = None if hw_budget is None else int(hw_budget)
        self._seen = np.zeros(gt.accuracy.shape[0], dtype=bool)
        self._hw_seen = np.zeros(gt.accuracy.shape[0], dtype=bool)

    # --- what a method may know for free ---------------------------------------------------------
    @property
    def space(self):
        return self.gt.space

    @property
    def dataset(self) -> str:
        return self.gt.dataset

    @property
    def device(self) -> str:
        return self.gt.device

    @property
    def has_energy(self) -> bool:
        return self.gt.energy is not None

    def rows(self, codes) -> np.ndarray:
        return self.gt.space.index(codes)

    def flops(self, codes) -> np.ndarray:
        return self.gt.flops[self.rows(codes)]

    def params(self, codes) -> np.ndarray:
        return self.gt.params[self.rows(codes)]

    # --- counted queries ---------------------------------------------------------------------------
    @property
    def queries(self) -> int:
        """Distinct architectures whose accuracy was revealed."""
        return int(self._seen.sum())

    @property
    def hw_queries(self) -> int:
        return int(self._hw_seen.sum())

    def hardware_rows(self) -> np.ndarray:
        """Rows whose latency/energy was revealed (e.g. what a live device must have measured)."""
        return np.flatnonzero(self._hw_seen)

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.queries

    def _charge(self, seen: np.ndarray, rows: np.ndarray, budget: int | None, what: str) -> None:
        new = np.unique(rows[~seen[rows]])
        if budget is not None and int(seen.sum()) + new.size > budget:
            raise BudgetExhausted(f"{what} budget of {budget} distinct architectures exhausted "
                                  f"({int(seen.sum())} used, {new.size} more asked)")
        seen[new] = True

    def accuracy(self, codes) -> np.ndarray:
        rows = self.rows(codes)
        self._charge(self._seen, rows, self.budget, "evaluation")
        return self.gt.accuracy[rows].copy()

    def hardware(self, metric: str, codes) -> np.ndarray:
        values = self.gt.metric(metric)
        rows = self.rows(codes)
        self._charge(self._hw_seen, rows, self.hw_budget, "hardware-query")
        return values[rows].copy()

    def latency(self, codes) -> np.ndarray:
        return self.hardware("latency", codes)

    def energy(self, codes) -> np.ndarray:
        return self.hardware("energy", codes)
