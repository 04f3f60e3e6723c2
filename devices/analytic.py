"""Analytic profiles: exact FLOPs or params counts used as the hardware cost.

They fill the "latency" slot (in millions, units MMACs / Mparams) so that every latency-driven code path
(MathNAS's latency constraint, `optimum --max-latency`, additivity) can run under an analytic cost with no
measurement at all. The counts are exact and exactly additive over blocks (spaces.nb201_costs).
"""
from __future__ import annotations

import numpy as np

from devices.profiles import DeviceProfile
from harness.data import Tables

SOURCE = "spaces.nb201_costs.block_costs (exact count of the torch model, spaces.nb201_model)"


def _loader(what: str):
    def load(tables: Tables, dataset: str) -> dict[str, np.ndarray]:
        from spaces.nb201_costs import block_costs  # lazy: imports torch

        costs = block_costs(dataset)
        codes = tables.space.enumerate()
        counts = costs.flops(codes) if what == "flops" else costs.params(codes)
        return {"latency": counts / 1e6}
    return load


def profiles() -> list[DeviceProfile]:
    return [
        DeviceProfile("flops", "analytic", ("latency",), f"multiply-accumulates, {SOURCE}", _loader("flops"),
                      units={"latency": "MMACs"},
                      note="'latency' = MACs in millions (conv + linear), so limits are in MMACs"),
        DeviceProfile("params", "analytic", ("latency",), f"trainable parameters, {SOURCE}", _loader("params"),
                      units={"latency": "Mparams"},
                      note="'latency' = parameters in millions, so limits are in Mparams"),
    ]
