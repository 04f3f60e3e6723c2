"""The only door through which a method sees ground truth; budgets and the hardware regime are enforced here.

Accuracy queries cost what a real user pays (training a network): every DISTINCT architecture evaluated
counts once, and the method sees the search split (validation where the benchmark has one). Hardware
queries (latency/energy of a distinct architecture, both metrics one measurement) are counted separately
and cost what the regime says, the same for every method of a table:

  free     lookups cost nothing (the HW-NAS-Bench convention); counted, never limited
  charged  each distinct hardware measurement costs `hw_cost` evaluations from the same budget
  blind    a method knows only what it measured, at most `hw_budget` distinct architectures

FLOPs and params are analytic and free. Searchers report their incumbent with `incumbent(code)` whenever
it changes; with the evaluation order this gives the anytime trajectory the reports compare at equal budgets.

Where the task splits rows (hardware-only tasks, core.truth), a row outside the search split is refused in
one line, so a method never sees what it is scored on. Where the ground truth can answer codes WITHOUT a
row (`GroundTruth.outside`: a device that knows any code exactly), hardware queries of such codes are
answered and counted as distinct measurements exactly like rows, under the same budget and regime.
A method spends hardware within what `hw_allowance()` says (None: unlimited), so every method runs under
every regime; `fingerprint(metric)` names the content of a table (cache keys), revealing none of its values.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

from core.codes import code_keys
from core.errors import BudgetExhausted, HarnessError
from core.truth import GroundTruth
from core.validation import check_choice, check_float, check_int

REGIMES = ("free", "charged", "blind")
HW_METRICS = ("latency", "energy")


class Oracle:
    def __init__(self, gt: GroundTruth, budget: int | None = None, hw_budget: int | None = None,
                 regime: str = "free", hw_cost: float = 0.0):
        self.gt = gt
        self.budget = None if budget is None else check_int("budget", budget, 0)
        self.regime = check_choice("hardware regime", regime, REGIMES)
        self.hw_cost = check_float("hardware cost", hw_cost, 0.0) if regime == "charged" else 0.0
        if regime == "blind":
            hw_budget = self.budget if hw_budget is None else hw_budget
        self.hw_budget = None if hw_budget is None else check_int("hardware budget", hw_budget, 0)
        self._seen = np.zeros(gt.size, dtype=bool)
        self._hw_seen = np.zeros(gt.size, dtype=bool)
        self._hw_outside: set[bytes] = set()  # distinct codes without a row whose hardware was revealed
        self.evaluated: list[int] = []       # rows in the order they were first evaluated
        self.hw_at_eval: list[int] = []      # hardware measurements made before each of those evaluations
        self.incumbents: list[dict] = []     # {"evaluations", "hw_queries", "row"} each time a searcher's best changes
        self._fingerprints: dict[str, str] = {}

    # --- what a method may know for free ---------------------------------------------------------
    @property
    def space(self):
        return self.gt.space

    @property
    def dataset(self) -> str:
        return self.gt.dataset

    @property
    def device(self) -> str:
        return self.gt.device

    @property
    def has_energy(self) -> bool:
        return self.gt.energy is not None

    def has(self, metric: str) -> bool:
        """Whether the device/space provides `metric` at all (asking is free)."""
        return self.gt.has(metric)

    def unit(self, metric: str) -> str:
        return self.gt.unit(metric)

    def rows(self, codes) -> np.ndarray:
        return self.gt.space.index(codes)

    def search_codes(self) -> np.ndarray:
        """Codes of every row a method may query (the search split's rows; all rows without a split)."""
        codes = self.gt.codes
        return codes if self.gt.search_rows is None else codes[self.gt.search_rows]

    def answerable(self, codes) -> np.ndarray:
        """Whether the hardware of each code can be asked: a search-split row, or any valid code the device
        knows exactly (`GroundTruth.outside`); False for a code that is no architecture. Asking is free."""
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        find = getattr(self.gt.space, "lookup", self.rows)
        try:
            rows = find(codes)
        except HarnessError:      # some code is no architecture of the space: -2 for those
            rows = np.array([_row_or(find, c, -2) for c in codes], dtype=np.int64)
        ok = rows >= 0
        if self.gt.search_rows is not None:
            ok[ok] = self.gt.search_rows[rows[ok]]
        if self.gt.outside is not None:
            ok |= rows == -1
        return ok

    def _table_rows(self, codes) -> np.ndarray:
        """Rows of `codes` where only the table's rows can be answered (one line naming the device if not)."""
        if not hasattr(self.gt.space, "lookup"):
            return self.rows(codes)
        rows = self.gt.space.lookup(codes)
        if np.any(rows < 0):
            code = np.atleast_2d(np.asarray(codes, dtype=np.int64))[int(np.argmax(rows < 0))]
            raise HarnessError(f"{self.space.name}/{self.dataset}: device {self.device!r} knows only the table's "
                               f"{self.gt.size:,} sampled architectures, and {self.space.decode(code)} is not one "
                               f"of them (a method that needs other codes cannot run on this device)")
        return rows

    def _check_split(self, rows: np.ndarray) -> None:
        """Refuse rows outside the search split (hardware-only tasks: the rows results are scored on)."""
        allowed = self.gt.search_rows
        if allowed is None or rows.size == 0 or allowed[rows].all():
            return
        bad = int(rows[np.argmin(allowed[rows])])
        task = self.gt.task
        split = f" {task.score_split!r}" if task is not None else ""
        search = f" the {task.search_split!r} split:" if task is not None else ""
        raise HarnessError(f"{self.space.name}/{self.dataset}: row {bad} belongs to the score split{split}; methods "
                           f"may query only{search} {int(allowed.sum()):,} of {allowed.size:,} rows")

    def flops(self, codes) -> np.ndarray:
        return self.gt.metric("flops")[self.rows(codes)]

    def params(self, codes) -> np.ndarray:
        return self.gt.metric("params")[self.rows(codes)]

    # --- counted queries ---------------------------------------------------------------------------
    @property
    def queries(self) -> int:
        """Distinct architectures whose accuracy was revealed."""
        return int(self._seen.sum())

    @property
    def hw_queries(self) -> int:
        """Distinct architectures whose hardware metrics were revealed (rows and codes without a row)."""
        return int(self._hw_seen.sum()) + len(self._hw_outside)

    @property
    def spent(self) -> float:
        """Budget used: evaluations plus, when hardware is charged, its cost in evaluations."""
        return self.queries + self.hw_cost * self.hw_queries

    @property
    def remaining(self) -> int | None:
        """Whole evaluations still affordable (None: unlimited)."""
        if self.budget is None:
            return None
        return max(0, math.floor(self.budget - self.spent + 1e-9))

    def hw_allowance(self, reserve: float = 0.0) -> int | None:
        """New distinct hardware measurements still allowed while keeping `reserve` evaluations affordable
        (None: unlimited). Re-reading an architecture already measured is always free."""
        out = None
        if self.hw_budget is not None:
            out = max(0, self.hw_budget - self.hw_queries)
        if self.hw_cost and self.budget is not None:
            charged = max(0, math.floor((self.budget - self.spent - reserve) / self.hw_cost + 1e-9))
            out = charged if out is None else min(out, charged)
        return out

    @property
    def hw_remaining(self) -> int | None:
        """New distinct hardware measurements still allowed (None: unlimited)."""
        return self.hw_allowance()

    @property
    def hw_limited(self) -> bool:
        """Whether hardware measurements are limited at all (blind or charged with a budget)."""
        return self.hw_remaining is not None

    def hw_measured(self, codes) -> np.ndarray:
        """Which of `codes` were measured already (reading them again costs nothing); codes without a row count
        as measured once a device that knows them exactly was asked (`GroundTruth.outside`)."""
        if self.gt.outside is None:
            return self._hw_seen[self.rows(codes)]
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        rows = self.gt.space.lookup(codes)
        out = np.zeros(rows.size, dtype=bool)
        out[rows >= 0] = self._hw_seen[rows[rows >= 0]]
        out[rows < 0] = [k in self._hw_outside for k in code_keys(codes[rows < 0])]
        return out

    def fingerprint(self, metric: str) -> str:
        """sha256 naming the content of the table a method sees for `metric` (accuracy: the search split):
        equal tables, equal names. A cache key, not a clue: nothing about the values can be read from it."""
        if metric not in self._fingerprints:
            values = self.gt.search_accuracy if metric == "accuracy" else self.gt.metric(metric)
            if values is None:
                raise HarnessError(f"space {self.space.name!r} has no {metric}")
            h = hashlib.sha256(f"{self.space.name}|{self.space.size}|{metric}|".encode())
            h.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
            self._fingerprints[metric] = h.hexdigest()
        return self._fingerprints[metric]

    def hardware_rows(self) -> np.ndarray:
        """Rows whose latency/energy was revealed (e.g. what a live device must have measured)."""
        return np.flatnonzero(self._hw_seen)

    def accuracy(self, codes) -> np.ndarray:
        """The search-split accuracy of `codes` (a new distinct architecture costs one evaluation)."""
        if self.gt.search_accuracy is None:
            raise HarnessError(f"space {self.space.name!r} has no accuracy (hardware costs only)")
        rows = self.rows(codes)
        self._check_split(rows)
        new = np.unique(rows[~self._seen[rows]])
        if self.budget is not None and self.spent + new.size > self.budget + 1e-9:
            raise BudgetExhausted(f"evaluation budget of {self.budget} exhausted ({self._used()}, "
                                  f"{new.size} more evaluations asked)")
        self._seen[new] = True
        fresh = set(new.tolist())
        for r in rows.tolist():      # in the order the method asked
            if r in fresh:
                self.evaluated.append(int(r))
                self.hw_at_eval.append(self.hw_queries)
                fresh.discard(r)
        return self.gt.search_accuracy[rows].copy()

    def hardware(self, metric: str, codes) -> np.ndarray:
        """Latency or energy of `codes` on the device (NaN = not measured on a live/user profile)."""
        if metric not in HW_METRICS:
            raise HarnessError(f"unknown hardware metric {metric!r}; valid: {', '.join(HW_METRICS)}")
        values = self.gt.metric(metric)
        if self.gt.outside is None:
            rows = self._table_rows(codes)
        else:
            codes = self.gt.space.check_codes(codes) if hasattr(self.gt.space, "check_codes") else \
                np.atleast_2d(np.asarray(codes, dtype=np.int64))
            rows = self.gt.space.lookup(codes)
        inside = rows >= 0
        self._check_split(rows[inside])
        new = np.unique(rows[inside][~self._hw_seen[rows[inside]]])
        fresh = [] if inside.all() else \
            list(dict.fromkeys(k for k in code_keys(codes[~inside]) if k not in self._hw_outside))
        asked = new.size + len(fresh)
        if self.hw_budget is not None and self.hw_queries + asked > self.hw_budget:
            raise BudgetExhausted(f"hardware budget of {self.hw_budget} distinct measurements exhausted "
                                  f"({self.hw_queries} used, {asked} more asked; regime {self.regime})")
        if self.budget is not None and self.hw_cost and self.spent + self.hw_cost * asked > self.budget + 1e-9:
            raise BudgetExhausted(f"budget of {self.budget} exhausted by hardware measurements at "
                                  f"{self.hw_cost:g} evaluation each ({self._used()}, {asked} more asked)")
        out = np.empty(rows.size, dtype=np.float64)
        out[inside] = values[rows[inside]]
        if not inside.all():
            off = np.asarray(self.gt.outside(metric, codes[~inside]), dtype=np.float64).reshape(-1)
            if off.shape[0] != int((~inside).sum()):
                raise HarnessError(f"device {self.device!r}: {off.shape[0]} {metric} values for "
                                   f"{int((~inside).sum())} codes outside the table")
            out[~inside] = off
        self._hw_seen[new] = True
        self._hw_outside.update(fresh)
        return out

    def latency(self, codes) -> np.ndarray:
        return self.hardware("latency", codes)

    def energy(self, codes) -> np.ndarray:
        return self.hardware("energy", codes)

    def _used(self) -> str:
        return f"{self.queries} evaluations" + (f" + {self.hw_queries} hardware measurements x {self.hw_cost:g}"
                                               if self.hw_cost else "") + " used"

    # --- anytime trajectory ------------------------------------------------------------------------------
    def incumbent(self, code) -> None:
        """A searcher's current best changed to `code` (stamped with what has been spent so far)."""
        row = int(self.rows(np.asarray(code).reshape(1, -1))[0])
        if self.incumbents and self.incumbents[-1]["row"] == row:
            return
        self.incumbents.append({"evaluations": self.queries, "hw_queries": self.hw_queries, "row": row})



def _row_or(find, code: np.ndarray, default: int) -> int:
    try:
        return int(find(code[None])[0])
    except HarnessError:
        return default
