"""NAS-Bench-Graph's published latency as ONE device profile, `nbg-gpu` (entry point `nasbench-graph`).

The light files time every architecture on every dataset with that dataset's own tuned network (hidden size
etc.), so latency is per dataset: the loader returns the `<ds>_latency_ms` column of the dataset asked for.
"""
from __future__ import annotations

import numpy as np

from core.protocols import DeviceProfile
from spaces.nasbench_graph_data import BENCHMARKS, load_table

NAME = "nbg-gpu"


def _latency(space, dataset: str, sources) -> dict[str, np.ndarray]:
    table, _, _ = load_table(space.name, sources)
    return {"latency": table.latency[dataset]}


def profiles() -> list[DeviceProfile]:
    return [DeviceProfile(
        NAME, "table", ("latency",),
        "NAS-Bench-Graph light files ('latency', seconds -> ms), <data root>/nasbench_graph; the paper does not "
        "tie it to a named device (GPU/CPU timing during evaluation)",
        _latency, coverage={name: b.datasets for name, b in BENCHMARKS.items()},
        note="one generic device; each dataset's own column (networks and hyper-parameters differ per dataset)")]
