"""Analytic profiles: exact FLOPs or params counts used as the hardware cost, on every space that has them.

They fill the "latency" slot (in millions, units MMACs / Mparams) so that every latency-driven code path
(MathNAS's latency constraint, `optimum --max-latency`, additivity) can run under an analytic cost with no
measurement at all. The counts are the space's exact per-block costs (`space.block_costs(dataset)`).
"""
from __future__ import annotations

import numpy as np

from core.errors import HarnessError
from core.protocols import ANY_SPACE, DeviceProfile

SOURCE = "the space's exact per-block costs (NAS-Bench-201: spaces.nb201_costs, the torch model's count)"


def _loader(what: str):
    def load(space, dataset: str, sources) -> dict[str, np.ndarray]:
        costs = space.block_costs(dataset)
        if costs is None:
            raise HarnessError(f"space {space.name!r} has no analytic {what} count; device {what!r} needs one")
        codes = space.enumerate()
        counts = costs.flops(codes) if what == "flops" else costs.params(codes)
        return {"latency": counts / 1e6}
    return load


def profiles() -> list[DeviceProfile]:
    return [
        DeviceProfile("flops", "analytic", ("latency",), f"multiply-accumulates, {SOURCE}", _loader("flops"),
                      coverage={ANY_SPACE: None}, units={"latency": "MMACs"},
                      note="'latency' = MACs in millions (conv + linear), so limits are in MMACs"),
        DeviceProfile("params", "analytic", ("latency",), f"trainable parameters, {SOURCE}", _loader("params"),
                      coverage={ANY_SPACE: None}, units={"latency": "Mparams"},
                      note="'latency' = parameters in millions, so limits are in Mparams"),
    ]
