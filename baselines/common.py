"""Shared by every baseline: how many evaluations a method may spend, and limit checks through the oracle.

The budget of a run is the oracle's (the runner or the CLI sets it); a method only chooses how much to
spend when the oracle is unlimited (its default).

Limits on FLOPs/params are analytic (free); latency/energy are read from the device profile through
`oracle.hardware`, which counts them as hardware queries, exactly as a user measuring on the device would.
"""
from __future__ import annotations

import numpy as np

from core.validation import check_float, check_int  # noqa: F401 (the baselines' parameter checks)

DEFAULT_BUDGET = 100
FREE_METRICS = ("flops", "params")


def resolve_budget(oracle, default: int = DEFAULT_BUDGET) -> int:
    """Distinct evaluations a method may spend: what the oracle still allows, or `default` when unlimited."""
    remaining = oracle.remaining
    return int(default if remaining is None else remaining)


def feasible(oracle, codes, limits: dict[str, float]) -> np.ndarray:
    """True where a code meets every limit on the device. Free metrics are checked first, so hardware
    is only queried for codes that can still be feasible."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    ok = np.ones(codes.shape[0], dtype=bool)
    ordered = sorted(limits.items(), key=lambda kv: kv[0] not in FREE_METRICS)
    for metric, limit in ordered:
        if not ok.any():
            break
        idx = np.flatnonzero(ok)
        if metric == "flops":
            values = oracle.flops(codes[idx])
        elif metric == "params":
            values = oracle.params(codes[idx])
        else:
            values = oracle.hardware(metric, codes[idx])
        ok[idx] = values <= limit
    return ok


class FeasibleStream:
    """Walk the space in a seeded random order and hand out feasible, not yet evaluated codes.

    Each request checks only as many codes as it can use (at most `k` per chunk), so no hardware query
    is spent on a code the search would not have looked at anyway.
    """

    def __init__(self, oracle, limits: dict[str, float], rng: np.random.Generator):
        self.oracle, self.limits = oracle, limits
        self.codes = oracle.space.enumerate()
        self.order = rng.permutation(self.codes.shape[0])
        self.pos = 0
        self.checked = 0

    @property
    def exhausted(self) -> bool:
        return self.pos >= self.order.size

    def take(self, k: int, skip: set[int] | None = None) -> np.ndarray:
        """Up to `k` feasible codes (fewer only when the space runs out); rows in `skip` are passed over."""
        out: list[np.ndarray] = []
        got = 0
        while got < k and not self.exhausted:
            rows = self.order[self.pos:self.pos + (k - got)]
            self.pos += rows.size
            if skip:
                rows = rows[[int(r) not in skip for r in rows]]
            if rows.size == 0:
                continue
            self.checked += rows.size
            c = self.codes[rows]
            c = c[feasible(self.oracle, c, self.limits)]
            out.append(c)
            got += c.shape[0]
        return np.concatenate(out) if out else np.empty((0, self.codes.shape[1]), dtype=np.int64)
