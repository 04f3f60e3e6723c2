"""An idealised accelerator: latency = 0.5 ms + MACs / 2e7, on every space that counts its MACs."""
from core.protocols import ANY_SPACE, DeviceProfile


def _latency(space, dataset, sources):
    return {"latency": 0.5 + space.block_costs(dataset).flops(space.enumerate()) / 2e7}


profile = DeviceProfile("toy-npu", "analytic", ("latency",), "0.5 ms + MACs / 2e7 (example plugin)", _latency,
                        coverage={ANY_SPACE: None})
