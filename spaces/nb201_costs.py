"""Exact analytic per-block MACs and params of the NAS-Bench-201 network (spaces.nb201_model).

`block_costs(dataset)` gives `BlockCosts` with
  block_flops[i][j]  MACs of op j (spaces.nb201.OPS order) on edge i (spaces.nb201.EDGES order), summed over
                     all 15 cells: 5 per stage at that stage's width (16/32/64) and resolution;
  const_flops        the fixed part: stem conv, the two reduction blocks (both 3x3 convs and the 1x1
                     shortcut conv) and the classifier;
and likewise block_params / const_params. A network's cost is const + the sum of its six block terms,
exactly (the cost of an edge does not depend on the other edges, see spaces.nb201_model).

Counting convention (the same as `spaces.nb201_model.count_macs_params`, checked by tests):
  MACs   = Conv2d: C_out * H_out * W_out * C_in * k * k / groups; Linear: in * out.
           Bias additions, BatchNorm, ReLU, pooling, identity and the node sums are not counted.
  params = every trainable tensor: conv and linear weights, linear bias, BN weight and bias
           (BN running statistics are buffers, not params).
NAS-Bench-201's own `flop` field (xautodl get_model_infos) also adds the classifier bias (num_classes
FLOPs, e.g. 1e-5 M for CIFAR-10) and reports in millions; its `params` field is the same count in millions.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.errors import HarnessError
from core.protocols import BlockCosts
from spaces.nb201_geometry import EDGES, NUM_OPS, OPS, C_STEM, N_CELLS, STAGE_CHANNELS, dataset_spec, stage_resolutions


def _conv_macs(c_in: int, c_out: int, k: int, hw: tuple[int, int]) -> int:
    return c_out * hw[0] * hw[1] * c_in * k * k


def _conv_params(c_in: int, c_out: int, k: int) -> int:
    return c_out * c_in * k * k


def _bn_params(c: int) -> int:
    return 2 * c


def _op_cost(op: str, c: int, hw: tuple[int, int]) -> tuple[int, int]:
    """(MACs, params) of one edge op in one cell of width c at resolution hw."""
    if op in ("none", "skip_connect", "avg_pool_3x3"):
        return 0, 0
    k = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}[op]
    return _conv_macs(c, c, k, hw), _conv_params(c, c, k) + _bn_params(c)


@lru_cache(maxsize=None)
def block_costs(dataset: str) -> BlockCosts:
    """Per-edge, per-op MACs and params of the NAS-Bench-201 network for `dataset` (cached)."""
    spec = dataset_spec(dataset)
    c_in = spec.input_shape[0]
    res = stage_resolutions(spec.input_shape)

    # fixed part: stem, reductions, head
    flops = _conv_macs(c_in, C_STEM, 3, res[0])
    params = _conv_params(c_in, C_STEM, 3) + _bn_params(C_STEM)
    for s in range(1, len(STAGE_CHANNELS)):
        a, b, hw = STAGE_CHANNELS[s - 1], STAGE_CHANNELS[s], res[s]
        flops += _conv_macs(a, b, 3, hw) + _conv_macs(b, b, 3, hw) + _conv_macs(a, b, 1, hw)
        params += (
            _conv_params(a, b, 3) + _bn_params(b) + _conv_params(b, b, 3) + _bn_params(b) + _conv_params(a, b, 1)
        )
    c_last = STAGE_CHANNELS[-1]
    flops += c_last * spec.num_classes
    params += _bn_params(c_last) + c_last * spec.num_classes + spec.num_classes

    # one edge, summed over the 5 cells of each of the 3 stages (identical for every edge position)
    per_op_flops = np.zeros(NUM_OPS, dtype=np.float64)
    per_op_params = np.zeros(NUM_OPS, dtype=np.float64)
    for j, op in enumerate(OPS):
        for c, hw in zip(STAGE_CHANNELS, res):
            f, p = _op_cost(op, c, hw)
            per_op_flops[j] += N_CELLS * f
            per_op_params[j] += N_CELLS * p
    per_op_flops.setflags(write=False)
    per_op_params.setflags(write=False)
    return BlockCosts(
        block_flops=tuple(per_op_flops for _ in EDGES),
        const_flops=float(flops),
        block_params=tuple(per_op_params for _ in EDGES),
        const_params=float(params),
    )


def flops_params_all(dataset: str, codes) -> tuple[np.ndarray, np.ndarray]:
    """(MACs, params) of each code (rows of a (k, 6) int array, or one code), as float64 arrays."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    if codes.ndim != 2 or codes.shape[1] != len(EDGES):
        raise HarnessError(f"codes must have shape (k, {len(EDGES)}), got {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= NUM_OPS):
        raise HarnessError(f"code entries must be in 0..{NUM_OPS - 1}")
    bc = block_costs(dataset)
    return bc.flops(codes), bc.params(codes)
