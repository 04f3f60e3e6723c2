"""An idealised accelerator: latency = 0.5 ms + MACs / 2e7, on every space that counts its MACs."""
from core.errors import HarnessError
from core.protocols import ANY_SPACE, DeviceProfile


def _latency(space, dataset, sources):
    costs = space.block_costs(dataset)
    if costs is None:   # NAS-Bench-Graph, FBNet and OFA publish no MACs
        raise HarnessError(f"toy-npu: space {space.name!r} counts no MACs")
    return {"latency": 0.5 + costs.flops(space.enumerate()) / 2e7}


profile = DeviceProfile("toy-npu", "analytic", ("latency",), "0.5 ms + MACs / 2e7 (example plugin)", _latency,
                        coverage={ANY_SPACE: None})
