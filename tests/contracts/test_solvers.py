"""The SolverBackend contract, over every registered backend: agreement with enumeration on random small
problems (hypothesis), and the status vocabulary (a crash is `error` with its message, never a traceback)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.protocols import SOLVER_STATUSES, SolverBackend
from core.registry import SOLVERS
from solvers import ChoiceProblem, Constraint, get_backend, solve

BACKENDS = SOLVERS.names()


@st.composite
def problems(draw):
    m = draw(st.integers(1, 4))
    n = [draw(st.integers(1, 4)) for _ in range(m)]
    vals = st.floats(-5, 5, allow_nan=False, width=32)
    num = [np.array(draw(st.lists(vals, min_size=k, max_size=k))) for k in n]
    den = None
    if draw(st.booleans()):
        den = [np.array(draw(st.lists(st.floats(0.5, 4, width=32), min_size=k, max_size=k))) for k in n]
    cons = []
    for c in range(draw(st.integers(0, 2))):
        coeffs = [np.array(draw(st.lists(st.floats(0, 3, width=32), min_size=k, max_size=k))) for k in n]
        lo, hi = sum(float(x.min()) for x in coeffs), sum(float(x.max()) for x in coeffs)
        cons.append(Constraint(f"c{c}", coeffs, lo + draw(st.floats(-0.2, 1.1)) * (hi - lo)))
    skippable = [i for i in range(m) if n[i] >= 2]
    skip, groups, choice = None, None, None
    mode = draw(st.sampled_from(["none", "skip_from", "groups"]))
    if mode == "skip_from":   # the shorthand: one suffix group, last choices skip
        skip = draw(st.sampled_from([None] + [i for i in skippable if all(n[j] >= 2 for j in range(i, m))]))
    elif mode == "groups" and skippable:   # disjoint groups of skippable nodes, any choice is the skip
        nodes = draw(st.permutations(skippable))[:draw(st.integers(1, len(skippable)))]
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(nodes) - 1)), max_size=len(nodes) - 1)))
        parts = [nodes[a:b] for a, b in zip([0] + cuts, cuts + [len(nodes)]) if nodes[a:b]]
        groups = tuple(tuple(sorted(p)) if draw(st.booleans()) else tuple(p) for p in parts)
        choice = [None] * m
        for i in nodes:
            choice[i] = draw(st.integers(0, n[i] - 1))
        choice = tuple(choice)
    return ChoiceProblem(num=num, den=den, den_const=0.0, constraints=cons, skip_from=skip, name="contract",
                         skip_groups=groups, skip_choice=choice)


@pytest.mark.parametrize("backend", BACKENDS)
def test_is_a_backend(backend):
    b = get_backend(backend)
    assert isinstance(b, SolverBackend) and b.name == backend
    ok, why = b.available()
    assert isinstance(ok, bool) and (ok or why)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=problems())
def test_agrees_with_enumeration(backend, p):
    if not get_backend(backend).available()[0]:
        pytest.skip(get_backend(backend).available()[1])
    ref = solve(p, "enumerate")
    sol = solve(p, backend, time_limit=30)
    assert sol.status in SOLVER_STATUSES
    assert sol.status in ("optimal", "infeasible"), (sol.status, sol.reason)
    assert sol.status == ref.status
    if ref.status == "optimal":
        assert p.feasible(sol.code)[0]
        assert sol.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-9)
        assert float(p.objective(sol.code)[0]) == pytest.approx(sol.objective, rel=1e-9, abs=1e-12)


def test_a_crash_is_status_error_with_its_message(monkeypatch):
    def boom(problem, time_limit=None, **_):
        raise RuntimeError("solver library exploded")

    monkeypatch.setitem(SOLVERS._loaded, "enumerate", SolverBackend("enumerate", solve=boom))
    sol = solve(ChoiceProblem(num=([1.0, 2.0],)), "enumerate")
    assert sol.status == "error" and "solver library exploded" in sol.reason and sol.code is None
