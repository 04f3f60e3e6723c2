"""A search problem: maximise true accuracy on (dataset, device) under cost limits."""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.data import check_dataset
from harness.groundtruth import check_limits


@dataclass(frozen=True)
class Problem:
    dataset: str
    device: str
    limits: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        check_dataset(self.dataset)
        object.__setattr__(self, "limits", check_limits(self.limits))

    def describe(self) -> str:
        lim = ", ".join(f"{k} <= {v:g}" for k, v in self.limits.items()) or "no limits"
        return f"{self.dataset} on {self.device} ({lim})"
