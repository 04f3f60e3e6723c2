"""The one integer program every search uses: pick exactly one choice per node.

maximise   (num_const + sum_i num[i][x_i]) / (den_const + sum_i den[i][x_i])   (ratio, Eq. 6)
       or   num_const + sum_i num[i][x_i]                                          (linear, den is None)
subject to  c.const + sum_i c.coeffs[i][x_i] <= c.rhs   for every constraint c
            exactly one choice per node
            Eq. 9 (variable depth): in each skip group (nodes in network order) a skipped node's later
            group-mates are skipped too; `skip_choice[i]` is node i's "skip" choice. `skip_from=s` is the
            shorthand for one group (s, ..., m-1) whose LAST choices are the skips. After construction
            `skip_groups`/`skip_choice` always hold the normalised structure (empty without variable depth).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import numpy as np

from core.codes import depth_valid, skip_structure
from core.errors import HarnessError
from core.protocols import SOLVER_STATUSES as STATUSES


def _as_blocks(blocks) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(b, dtype=np.float64).reshape(-1) for b in blocks)


@dataclass(frozen=True)
class Constraint:
    """`const + sum_i coeffs[i][x_i] <= rhs` (e.g. predicted latency <= L)."""

    name: str
    coeffs: tuple[np.ndarray, ...]
    rhs: float
    const: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "coeffs", _as_blocks(self.coeffs))


@dataclass(frozen=True)
class ChoiceProblem:
    num: tuple[np.ndarray, ...]
    num_const: float = 0.0
    den: tuple[np.ndarray, ...] | None = None
    den_const: float = 0.0
    constraints: tuple[Constraint, ...] = ()
    skip_from: int | None = None
    name: str = ""
    skip_groups: tuple[tuple[int, ...], ...] | None = None
    skip_choice: tuple[int | None, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "num", _as_blocks(self.num))
        if self.den is not None:
            object.__setattr__(self, "den", _as_blocks(self.den))
        object.__setattr__(self, "constraints", tuple(self.constraints))
        groups, choice = skip_structure(self.num_choices, self.skip_from, self.skip_groups, self.skip_choice,
                                        what=f"problem {self.name!r}")
        object.__setattr__(self, "skip_groups", groups)
        object.__setattr__(self, "skip_choice", choice)
        self.validate()

    # --- shape -------------------------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        return len(self.num)

    @property
    def num_choices(self) -> tuple[int, ...]:
        return tuple(len(b) for b in self.num)

    @property
    def size(self) -> int:
        """Number of codes in the product space (skip-ordering not deducted)."""
        return prod(self.num_choices)

    @property
    def is_ratio(self) -> bool:
        return self.den is not None

    def validate(self) -> None:
        n = self.num_choices
        if not n or min(n) < 1:
            raise HarnessError(f"problem {self.name!r}: every node needs at least one choice, got {n}")
        groups = [("den", self.den)] if self.den is not None else []
        groups += [(f"constraint {c.name!r}", c.coeffs) for c in self.constraints]
        for what, blocks in groups:
            if tuple(len(b) for b in blocks) != n:
                raise HarnessError(f"problem {self.name!r}: {what} shape {[len(b) for b in blocks]} != {list(n)}")
        for what, blocks in [("num", self.num)] + groups:
            if any(not np.all(np.isfinite(b)) for b in blocks):
                raise HarnessError(f"problem {self.name!r}: {what} has NaN or infinite coefficients")
        if self.den is not None and self.den_const + sum(float(b.min()) for b in self.den) <= 0:
            raise HarnessError(f"problem {self.name!r}: ratio denominator must be > 0 for every choice")

    # --- evaluation --------------------------------------------------------------------------
    def _lin(self, blocks, const, codes) -> np.ndarray:
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        total = np.full(codes.shape[0], float(const))
        for i, b in enumerate(blocks):
            total += b[codes[:, i]]
        return total

    def objective(self, codes) -> np.ndarray:
        value = self._lin(self.num, self.num_const, codes)
        if self.den is not None:
            value = value / self._lin(self.den, self.den_const, codes)
        return value

    def resources(self, codes) -> dict[str, np.ndarray]:
        return {c.name: self._lin(c.coeffs, c.const, codes) for c in self.constraints}

    def feasible(self, codes, tol: float = 1e-9) -> np.ndarray:
        """Constraints hold (with a relative tolerance) and the skip ordering of Eq. 9 holds."""
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        ok = self.depth_valid(codes)
        for c in self.constraints:
            ok &= self._lin(c.coeffs, c.const, codes) <= c.rhs + tol * max(1.0, abs(c.rhs))
        return ok

    def depth_valid(self, codes) -> np.ndarray:
        return depth_valid(codes, self.num_choices, None, self.skip_groups, self.skip_choice)

    def is_skip(self, node: int, choice: int) -> bool:
        return self.skip_choice[node] is not None and choice == self.skip_choice[node]


@dataclass
class Solution:
    """What a backend returns. `code` is None when no feasible code was found."""

    code: np.ndarray | None
    objective: float | None
    status: str
    seconds: float
    backend: str
    gap: float | None = None
    reason: str = ""
    nodes: int | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} not in {STATUSES}")
