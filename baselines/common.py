"""Shared by every baseline: how many evaluations a method may spend, and limit checks through the oracle.

The budget of a run is the oracle's (the runner or the CLI sets it); a method only chooses how much to
spend when the oracle is unlimited (its default).

Limits on FLOPs/params are analytic (free); latency/energy are read from the device profile through
`oracle.hardware`, which counts them as hardware queries, exactly as a user measuring on the device would.
Under a limited hardware regime (blind, or charged with a budget) a method checks a code only while
`oracle.hw_allowance` lets it, one code at a time, keeping one evaluation affordable for the code it checks.
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


def budget_left(oracle, planned: int) -> int:
    """Evaluations a method may still start: what the oracle allows now (hardware may have been charged
    meanwhile), else what is left of its own `planned` number."""
    return planned - oracle.queries if oracle.remaining is None else min(oracle.remaining, planned - oracle.queries)


def hw_metrics(limits: dict[str, float]) -> list[str]:
    return [m for m in limits if m not in FREE_METRICS]


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
    is spent on a code the search would not have looked at anyway. Under a limited hardware regime the
    chunks shrink to one code, checked only while the oracle allows a measurement; `stop_reason` then
    says why a request came back short ("space exhausted" or "hardware budget").
    """

    def __init__(self, oracle, limits: dict[str, float], rng: np.random.Generator):
        self.oracle, self.limits = oracle, limits
        self.codes = oracle.space.enumerate()
        self.order = rng.permutation(self.codes.shape[0])
        self.pos = 0
        self.checked = 0
        self.needs_hw = bool(hw_metrics(limits))
        self.stop_reason: str | None = None

    @property
    def exhausted(self) -> bool:
        return self.pos >= self.order.size

    def _chunk(self, wanted: int) -> int:
        """How many codes the next chunk may check: all wanted, or one while the hardware allows it."""
        if not self.needs_hw or not self.oracle.hw_limited:
            return wanted
        rows = self.order[self.pos:self.pos + 1]
        if rows.size and self.oracle.hw_measured(self.codes[rows])[0]:
            return 1     # measured before: free to read again
        return 1 if self.oracle.hw_allowance(reserve=1) else 0

    def take(self, k: int, skip: set[int] | None = None) -> np.ndarray:
        """Up to `k` feasible codes (fewer when the space or the hardware allowance runs out); rows in
        `skip` are passed over."""
        out: list[np.ndarray] = []
        got = 0
        while got < k and not self.exhausted:
            size = self._chunk(k - got)
            if size == 0:
                self.stop_reason = "hardware budget"
                break
            rows = self.order[self.pos:self.pos + size]
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
        if got < k and self.exhausted:
            self.stop_reason = "space exhausted"
        return np.concatenate(out) if out else np.empty((0, self.codes.shape[1]), dtype=np.int64)
