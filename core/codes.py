"""Architecture codes: one int per block node. Enumeration order, ranks and Eq. 9 depth validity."""
from __future__ import annotations

import numpy as np


def product_codes(num_choices) -> np.ndarray:
    """All codes of a product space in lexicographic order (last node varies fastest)."""
    grids = np.meshgrid(*[np.arange(n) for n in num_choices], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)


def lexicographic_rank(codes, num_choices) -> np.ndarray:
    """Row of each code in `product_codes(num_choices)` (mixed-radix number)."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    rank = np.zeros(codes.shape[0], dtype=np.int64)
    for i, n in enumerate(num_choices):
        rank = rank * n + codes[:, i]
    return rank


def unrank(ranks, num_choices) -> np.ndarray:
    """Codes with the given lexicographic ranks (the inverse of `lexicographic_rank`)."""
    ranks = np.asarray(ranks, dtype=np.int64).copy()
    codes = np.empty((ranks.size, len(num_choices)), dtype=np.int64)
    for i in range(len(num_choices) - 1, -1, -1):
        codes[:, i] = ranks % num_choices[i]
        ranks //= num_choices[i]
    return codes


def depth_valid(codes, num_choices, skip_from: int | None) -> np.ndarray:
    """Eq. 9 ordering: for nodes >= skip_from the last choice is "skip", and a skipped node's
    successors are skipped too."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    ok = np.ones(codes.shape[0], dtype=bool)
    if skip_from is not None:
        n = num_choices
        for i in range(skip_from, len(n) - 1):
            ok &= (codes[:, i] != n[i] - 1) | (codes[:, i + 1] == n[i + 1] - 1)
    return ok


def check_codes(codes, num_choices, what: str = "space") -> np.ndarray:
    """Codes as a (k, m) int array with every entry in 0..n_i-1, or a one-line error."""
    from core.errors import HarnessError

    try:
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    except (TypeError, ValueError, OverflowError):
        raise HarnessError(f"{what}: codes must be whole numbers") from None
    if codes.ndim != 2 or codes.shape[1] != len(num_choices):
        raise HarnessError(f"{what}: codes must have shape (k, {len(num_choices)}), got {codes.shape}")
    if codes.size and (codes.min() < 0 or np.any(codes >= np.asarray(num_choices))):
        raise HarnessError(f"{what}: code entries must be in 0..n_i-1 for n = {list(num_choices)}")
    return codes
