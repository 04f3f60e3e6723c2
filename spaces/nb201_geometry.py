"""Shape of the NAS-Bench-201 network per dataset (widths, depths, input shapes), without torch.

Shared by the analytic cost model (spaces.nb201_costs, imported by every ground-truth load) and the torch
model (spaces.nb201_model), so that loading ground truth never pays torch's import time.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import HarnessError, unknown_name

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from)
NUM_NODES = len(EDGES)
NUM_OPS = len(OPS)
NUM_ARCHS = NUM_OPS**NUM_NODES  # 15,625

C_STEM = 16
N_CELLS = 5
STAGE_CHANNELS: tuple[int, ...] = (16, 32, 64)


@dataclass(frozen=True)
class DatasetSpec:
    input_shape: tuple[int, int, int]  # (C, H, W) of one input
    num_classes: int                   # outputs of the final Linear layer


DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec((3, 32, 32), 10),
    "cifar100": DatasetSpec((3, 32, 32), 100),
    "imagenet16_120": DatasetSpec((3, 16, 16), 120),
    "ninapro": DatasetSpec((1, 52, 16), 18),
    "darcy": DatasetSpec((1, 88, 88), 1),
}


def dataset_spec(dataset: str) -> DatasetSpec:
    try:
        return DATASETS[dataset]
    except (KeyError, TypeError):
        raise unknown_name("dataset", str(dataset), DATASETS) from None


def stage_resolutions(input_shape: tuple[int, int, int]) -> tuple[tuple[int, int], ...]:
    """(H, W) of the cells of each stage. Raises HarnessError when a reduction block cannot add its two
    branches (an odd side: the stride-2 conv rounds up, the 2x2 average pool rounds down)."""
    _, h, w = input_shape
    res = [(h, w)]
    for _ in range(len(STAGE_CHANNELS) - 1):
        h, w = res[-1]
        if h % 2 or w % 2 or h < 2 or w < 2:
            raise HarnessError(
                f"input shape {tuple(input_shape)}: a NAS-Bench-201 reduction needs even sides, got {h}x{w}"
            )
        res.append((h // 2, w // 2))
    return tuple(res)
