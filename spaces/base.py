"""What every search space provides: codes (int vectors, one choice per node) and per-choice costs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BlockCosts:
    """Exact per-choice costs: a network's cost is `const + sum_i block[i][code[i]]`.

    `flops` are multiply-accumulates (MACs), `params` are trainable parameters; both absolute counts.
    """

    block_flops: tuple[np.ndarray, ...]
    const_flops: float
    block_params: tuple[np.ndarray, ...]
    const_params: float

    def flops(self, codes: np.ndarray) -> np.ndarray:
        return self.const_flops + _gather_sum(self.block_flops, codes)

    def params(self, codes: np.ndarray) -> np.ndarray:
        return self.const_params + _gather_sum(self.block_params, codes)


def _gather_sum(blocks: tuple[np.ndarray, ...], codes: np.ndarray) -> np.ndarray:
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    total = np.zeros(codes.shape[0], dtype=np.float64)
    for i, b in enumerate(blocks):
        total += np.asarray(b, dtype=np.float64)[codes[:, i]]
    return total


def product_codes(num_choices: list[int] | tuple[int, ...]) -> np.ndarray:
    """All codes of a product space in lexicographic order (last node varies fastest)."""
    grids = np.meshgrid(*[np.arange(n) for n in num_choices], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)


def lexicographic_rank(codes: np.ndarray, num_choices: list[int] | tuple[int, ...]) -> np.ndarray:
    """Row of each code in `product_codes(num_choices)` (mixed-radix number)."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    rank = np.zeros(codes.shape[0], dtype=np.int64)
    for i, n in enumerate(num_choices):
        rank = rank * n + codes[:, i]
    return rank
