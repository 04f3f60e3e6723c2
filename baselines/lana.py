"""LANA (Molchanov et al., ECCV 2022): block-summation prediction around a teacher, then an ILP.

The teacher is the largest-FLOPs network (on a space without FLOPs, e.g. TransNAS-Bench-101 micro: each node's
last choice, since such spaces list choices from smallest to largest; there conv3x3 everywhere, the biggest
network of the space). Each (node, choice) is scored by the change of a metric when
only that node of the teacher is swapped to that choice (one evaluation each, 1 + sum(n_i - 1) in all),
and a network is predicted as teacher + sum of its blocks' changes. Accuracy deltas come from
evaluations, latency/energy deltas from hardware queries on the same networks, FLOPs/params deltas
from the free analytic counts. The search is the linear ChoiceProblem "maximise predicted accuracy
subject to predicted costs <= limits", solved by any registered backend (`solver`).

The core (`teacher_code`, `BlockSum.fit`) takes only the choice counts and evaluator callables, so it
works on any modular space. A space without FLOPs (NAS-Bench-Graph) gets the largest-params teacher, or every
node's first choice when it has no params either; picks without a row (a space's `valid`) are cut off the ILP.

Hardware-only spaces (FBNet, OFA: no accuracy, no exact FLOPs) get latency/energy predictors only, around
the teacher with the largest size index (`size_proxy`, e.g. expansion x kernel^2 summed over layers: per
node the choice with the largest index, ties to the lowest choice). Its swaps lie outside a table of
samples, so LANA runs only where the device answers any code (FBNet's lookup-table devices) and is refused
in one line elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from baselines.common import check_float, check_int, resolve_budget
from core.codes import swap_codes
from core.errors import BudgetExhausted, HarnessError
from core.protocols import MethodBase, SearchResult
from solvers import ChoiceProblem, Constraint, get_backend, solve

Evaluator = Callable[[np.ndarray], np.ndarray]
HW_METRICS = ("latency", "energy")
FREE_METRICS = ("flops", "params")


def distinct_networks(space, codes) -> np.ndarray:
    """`codes` with one code per network (first of each, in order): codes of one table row (NAS-Bench-Graph's
    isomorphic codes) are one evaluation and one measurement. Codes outside the table (FBNet's per-layer
    devices answer any code) are each their own network."""
    try:
        return codes[np.sort(np.unique(space.index(codes), return_index=True)[1])]
    except HarnessError:
        return codes


def teacher_code(num_choices, flops: Evaluator, valid=None) -> np.ndarray:
    """Largest-FLOPs network from per-node FLOPs probes (exact when FLOPs add up over blocks, as they
    do for every space here; ties go to the lowest choice). With `valid` (a space's codes that have a row)
    it must be swappable: see `swappable`."""
    base = np.zeros(len(num_choices), dtype=np.int64)
    probe = BlockSum.fit(base, num_choices, flops)
    teacher = np.array([int(np.argmax(d)) for d in probe.deltas], dtype=np.int64)
    return swappable(teacher, num_choices, probe, valid)


def swappable(teacher, num_choices, size: Evaluator, valid=None) -> np.ndarray:
    """`teacher` if every one-block swap of it has a row (always, without `valid`); else the largest by `size`
    among its nearest neighbours that are (one block changed, then two, ...). On NAS-Bench-Graph physics the
    probe's largest-params network is all skip (params are far from additive there): no row at all."""
    if valid is None:
        return teacher
    level = np.asarray(teacher, dtype=np.int64).reshape(1, -1)
    for _ in range(len(num_choices) + 1):
        for code in level[np.argsort(-size(level), kind="stable")]:
            if np.all(valid(swap_codes(code, num_choices)[0])):
                return code
        level = np.unique(np.concatenate([swap_codes(c, num_choices)[0][1:] for c in level]), axis=0)
        level = level[valid(level)]
    raise HarnessError("lana: no teacher whose one-block swaps all have a row")


def proxy_teacher(size_proxy) -> np.ndarray:
    """The network with the largest size index: per node the choice with the largest index (ties: lowest)."""
    return np.array([int(np.argmax(np.asarray(b, dtype=np.float64))) for b in size_proxy], dtype=np.int64)


@dataclass(frozen=True)
class BlockSum:
    """value(code) = base + sum_i deltas[i][code[i]], with deltas[i][teacher[i]] = 0."""

    teacher: np.ndarray
    base: float
    deltas: tuple[np.ndarray, ...]

    @classmethod
    def fit(cls, teacher, num_choices, evaluate: Evaluator) -> "BlockSum":
        codes, where = swap_codes(teacher, num_choices)
        values = np.asarray(evaluate(codes), dtype=np.float64).reshape(-1)
        if values.shape[0] != codes.shape[0]:
            raise HarnessError(f"evaluator returned {values.shape[0]} values for {codes.shape[0]} networks")
        deltas = [np.zeros(n) for n in num_choices]
        for (i, j), v in zip(where, values[1:]):
            deltas[i][j] = v - values[0]
        return cls(np.asarray(teacher, dtype=np.int64).copy(), float(values[0]), tuple(deltas))

    def __call__(self, codes) -> np.ndarray:
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        total = np.full(codes.shape[0], self.base)
        for i, d in enumerate(self.deltas):
            total += d[codes[:, i]]
        return total


def evaluations_needed(num_choices) -> int:
    return 1 + sum(n - 1 for n in num_choices)


class LANA(MethodBase):
    name = "lana"

    def __init__(self, seed: int = 0, solver: str | None = None, time_limit: float = 60.0):
        self.seed = check_int("seed", seed)   # LANA draws nothing at random; kept for the interface
        if solver is not None:
            get_backend(solver)
        self.solver = solver
        self.time_limit = check_float("time_limit", time_limit, 0.0, low_open=True)
        self.predictors: dict[str, BlockSum] = {}

    def fit(self, oracle) -> "LANA":
        """Score every block choice around the teacher: 1 + sum(n_i - 1) evaluations (25 on NAS-Bench-201)."""
        nc = tuple(oracle.space.num_choices)
        accuracy = oracle.has("accuracy")
        size = next((getattr(oracle, m) for m in FREE_METRICS if oracle.has(m)), None)
        valid = getattr(oracle.space, "valid", None)
        if size is not None:
            teacher = teacher_code(nc, size, valid)
        elif callable(getattr(oracle.space, "size_proxy", None)):
            teacher = proxy_teacher(oracle.space.size_proxy(oracle.dataset))
        else:
            # no size at all (TransNAS): the last choice of every node, choices being listed smallest first
            teacher = swappable(np.array([n - 1 for n in nc]), nc, lambda c: np.zeros(len(c)), valid)
        swaps, answerable = swap_codes(teacher, nc)[0], getattr(oracle, "answerable", None)
        if callable(answerable) and not answerable(swaps).all():
            raise HarnessError(f"lana needs the {len(swaps)} one-block swaps of its teacher, which "
                               f"{oracle.space.name}/{oracle.dataset} on device {oracle.device!r} cannot answer "
                               f"(not among the table's search rows, and the device knows no other code exactly)")
        networks = distinct_networks(oracle.space, swaps)
        need = len(networks) if accuracy else evaluations_needed(nc)
        allowed = resolve_budget(oracle, default=need)
        if accuracy and allowed < need:
            raise BudgetExhausted(f"lana needs {need} evaluations (the teacher and its one-block swaps, distinct "
                                  f"networks), the budget allows {allowed}")
        measure = [m for m in HW_METRICS if oracle.has(m)]
        if measure:
            self._check_hardware(oracle, networks, need)
        self.predictors = {"accuracy": BlockSum.fit(teacher, nc, oracle.accuracy)} if accuracy else {}
        self.unmeasured = []
        for metric in measure:
            p = BlockSum.fit(teacher, nc, lambda c, m=metric: oracle.hardware(m, c))
            if np.isfinite(p.base) and all(np.all(np.isfinite(d)) for d in p.deltas):
                self.predictors[metric] = p
            else:   # a live/user profile without these networks measured
                self.unmeasured.append(metric)
        if not self.predictors:
            raise HarnessError(f"lana: device {oracle.device!r} gives no latency/energy and the space no accuracy")
        self.teacher = teacher
        for metric in FREE_METRICS:
            if oracle.has(metric):
                self.predictors[metric] = BlockSum.fit(teacher, nc, getattr(oracle, metric))
        return self

    @staticmethod
    def _check_hardware(oracle, networks, need: int) -> None:
        """Fail before spending anything when the regime cannot pay for the hardware measurements of the
        swaps' distinct networks."""
        new = int((~oracle.hw_measured(networks)).sum())
        allowed = oracle.hw_allowance(reserve=need)
        if allowed is not None and new > allowed:
            cost = f" at {oracle.hw_cost:g} evaluation each" if oracle.hw_cost else ""
            raise BudgetExhausted(f"lana needs {need} evaluations and {new} hardware measurements{cost} (the teacher "
                                  f"and its block swaps); the {oracle.regime} regime allows {allowed} measurements")

    def predict(self, codes) -> dict[str, np.ndarray]:
        if not self.predictors:
            raise HarnessError("lana: call fit() before predict()")
        return {m: p(codes) for m, p in self.predictors.items() if m in ("accuracy",) + HW_METRICS}

    def choice_problem(self, limits: dict[str, float]):
        if "accuracy" not in self.predictors:
            raise HarnessError("lana searches for the most accurate network; this space has no accuracy")
        acc = self.predictors["accuracy"]
        constraints = []
        for metric, limit in limits.items():
            if metric not in self.predictors:
                why = "lacks some of the teacher's swaps" if metric in getattr(self, "unmeasured", ()) else "has none"
                raise HarnessError(f"lana: a {metric} limit needs {metric} of the teacher's block swaps; the device {why}")
            p = self.predictors[metric]
            constraints.append(Constraint(metric, p.deltas, float(limit), p.base))
        return ChoiceProblem(acc.deltas, acc.base, constraints=tuple(constraints), name="lana")

    def search(self, problem, oracle) -> SearchResult:
        self.fit(oracle)
        sol = solve(self.choice_problem(problem.limits), backend=self.solver, time_limit=self.time_limit,
                    valid=getattr(oracle.space, "valid", None))
        extra = {"solver": sol.backend, "solver_status": sol.status, "solver_seconds": sol.seconds,
                 "teacher": oracle.space.decode(self.teacher)}
        if sol.code is None:
            return SearchResult(None, {}, {**extra, "reason": sol.reason or f"solver status {sol.status}"})
        code = np.asarray(sol.code, dtype=np.int64)
        oracle.incumbent(code)
        predicted = {m: float(p(code)[0]) for m, p in self.predictors.items() if m != "params"}
        return SearchResult(code, predicted, extra)
