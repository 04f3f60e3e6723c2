"""Every available ILP backend against exhaustive enumeration (real solvers, no mocks)."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import HarnessError
from core.registry import SOLVERS
from solvers import ChoiceProblem, Constraint, available_backends, backend_names, backend_status, solve

BACKENDS = backend_names()
MILP_BACKENDS = [b for b in BACKENDS if b != "enumerate" and SOLVERS.reference(b).startswith("solvers.")]  # built-in MILPs
from solvers.milp import build_charnes_cooper, build_linear

AVAILABLE = set(available_backends())
# SOLVER_EXAMPLES=400 for a deeper (slower) run than the default suite
SETTINGS = settings(max_examples=int(os.environ.get("SOLVER_EXAMPLES", 30)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def needs(backend):
    ok, why = backend_status(backend)
    if not ok:
        pytest.skip(f"{backend} unavailable: {why}")


@st.composite
def problems(draw, ratio=None):
    """Small random problems: 1-5 nodes, 2-4 choices, 0-3 limits (some infeasible), optional skip,
    linear or ratio objective. Values are multiples of 0.1 so ties are exact ties."""
    m = draw(st.integers(1, 5))
    n = [draw(st.integers(2, 4)) for _ in range(m)]

    def blocks(lo, hi):
        return [np.array(draw(st.lists(st.integers(lo, hi), min_size=k, max_size=k))) / 10.0 for k in n]

    num = blocks(-50, 50)
    is_ratio = draw(st.booleans()) if ratio is None else ratio
    den = blocks(1, 30) if is_ratio else None
    cons = []
    for q in range(draw(st.integers(0, 3))):
        coeffs = blocks(0, 20)
        lo = sum(float(b.min()) for b in coeffs)
        hi = sum(float(b.max()) for b in coeffs)
        frac = draw(st.sampled_from([-0.2, 0.0, 0.3, 0.5, 0.8, 1.0]))   # -0.2: infeasible
        cons.append(Constraint(f"r{q}", coeffs, lo + frac * (hi - lo) - (0.05 if frac < 0 else 0.0)))
    skip = draw(st.one_of(st.none(), st.integers(0, m - 1)))
    return ChoiceProblem(num=num, num_const=draw(st.integers(-5, 5)) / 2, den=den,
                         den_const=draw(st.integers(0, 10)) / 2 if is_ratio else 0.0,
                         constraints=cons, skip_from=skip, name="hyp")


def check_against_enumeration(problem, sol, ref):
    assert sol.status == ref.status, (sol.backend, sol.status, ref.status, sol.reason)
    if ref.status == "infeasible":
        assert sol.code is None and sol.objective is None
        return
    assert sol.code is not None
    assert bool(problem.feasible(sol.code)[0]), (sol.backend, sol.code)
    # the reported objective is the problem's own value of the returned code
    assert sol.objective == pytest.approx(float(problem.objective(sol.code)[0]), rel=1e-12, abs=1e-12)
    assert sol.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-9), (sol.backend, sol.code, ref.code)


def test_registry_lists_every_backend():
    assert set(MILP_BACKENDS) | {"enumerate"} == {"enumerate", "gurobi", "cbc", "cpsat", "scip", "highs", "bnb"}
    assert set(MILP_BACKENDS) <= set(BACKENDS) and BACKENDS[0] == "enumerate"   # preference order
    assert "enumerate" in AVAILABLE
    for name in BACKENDS:
        ok, why = backend_status(name)
        assert ok or why, name
    with pytest.raises(HarnessError, match="unknown solver 'nope'"):
        solve(ChoiceProblem(num=([1.0],)), "nope")


@pytest.mark.parametrize("backend", MILP_BACKENDS)
@SETTINGS
@given(problem=problems())
def test_backend_matches_enumeration(backend, problem):
    needs(backend)
    ref = solve(problem, "enumerate")
    sol = solve(problem, backend, time_limit=30)
    assert sol.backend == backend
    check_against_enumeration(problem, sol, ref)
    if sol.status == "optimal":
        assert sol.gap == 0.0


@pytest.mark.parametrize("backend", [b for b in MILP_BACKENDS if b != "cpsat"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(ratio=True))
def test_charnes_cooper_and_dinkelbach_agree(backend, problem):
    needs(backend)
    ref = solve(problem, "enumerate")
    cc = solve(problem, backend, ratio="charnes-cooper")
    dk = solve(problem, backend, ratio="dinkelbach")
    assert cc.extra["formulation"] == "charnes-cooper" and dk.extra["formulation"] == "dinkelbach"
    check_against_enumeration(problem, cc, ref)
    check_against_enumeration(problem, dk, ref)


@pytest.mark.parametrize("envelope", ["light", "full"])
def test_charnes_cooper_envelopes_exact(envelope):
    needs("highs")
    rng = np.random.default_rng(3)
    for k in range(8):
        n = [4, 3, 5, 2]
        p = ChoiceProblem(num=[rng.normal(size=v) for v in n], den=[rng.uniform(0.1, 5, size=v) for v in n],
                          constraints=[Constraint("c", [rng.uniform(0, 1, size=v) for v in n], 1.5)], skip_from=2)
        ref = solve(p, "enumerate")
        check_against_enumeration(p, solve(p, "highs", ratio="charnes-cooper", envelope=envelope), ref)
        check_against_enumeration(p, solve(p, "bnb", ratio="charnes-cooper", envelope=envelope), ref)


def test_charnes_cooper_lift_is_exact():
    """At every binary x the CC model's objective is exactly the ratio and every row holds."""
    rng = np.random.default_rng(0)
    n = [3, 4, 2]
    p = ChoiceProblem(num=[rng.normal(size=v) for v in n], num_const=0.7, den=[rng.uniform(1, 3, size=v) for v in n],
                      den_const=0.5, skip_from=1)
    for envelope in ("light", "full"):
        model = build_charnes_cooper(p, envelope)
        for code in np.ndindex(*n):
            z = model.lift(code)
            assert model.value(z) * model.obj_scale == pytest.approx(float(p.objective(code)[0]), rel=1e-12)
            valid = bool(p.depth_valid(code)[0])
            assert (model.violation(z) <= 1e-12) == valid


def test_linear_model_keeps_every_feasible_code():
    rng = np.random.default_rng(1)
    n = [3, 3, 4]
    cons = [Constraint("lat", [rng.uniform(0, 2, size=v) for v in n], 2.5, const=0.3)]
    p = ChoiceProblem(num=[rng.normal(size=v) for v in n], constraints=cons)
    model = build_linear(p)
    for code in np.ndindex(*n):
        ok = bool(p.feasible(code)[0])
        assert (model.violation(model.lift(code)) <= 1e-12) == ok
        assert model.value(model.lift(code)) * model.obj_scale == pytest.approx(float(p.objective(code)[0]))


@pytest.mark.parametrize("backend", MILP_BACKENDS)
def test_tolerance_feasible_code_is_cut_off(backend):
    """(1, 1) breaks the limit by 1e-8 - invisible to solver tolerances (and to CP-SAT's 2**-40
    rounding) after scaling by the 1e6 coefficient - so it must be rejected by the exact re-check."""
    needs(backend)
    p = ChoiceProblem(num=([0.0, 10.0, -100.0], [0.0, 10.0, -100.0]),
                      constraints=[Constraint("lat", ([0.0, 0.5 + 1e-8, 1e6], [0.0, 0.5, 1e6]), 1.0)])
    ref = solve(p, "enumerate")
    assert ref.objective == 10.0
    sol = solve(p, backend)
    check_against_enumeration(p, sol, ref)


@pytest.mark.parametrize("backend", MILP_BACKENDS)
def test_infeasible_and_trivial(backend):
    needs(backend)
    infeasible = ChoiceProblem(num=([1.0, 2.0], [3.0, 1.0]),
                               constraints=[Constraint("lat", ([1.0, 2.0], [1.0, 1.0]), 1.5)])
    sol = solve(infeasible, backend)
    assert sol.status == "infeasible" and sol.code is None and sol.reason
    one = ChoiceProblem(num=([4.0],), den=([2.0],))
    sol = solve(one, backend)
    assert sol.status == "optimal" and sol.objective == 2.0 and list(sol.code) == [0]


@pytest.mark.parametrize("backend", MILP_BACKENDS)
def test_bad_options_are_one_line_errors(backend):
    p = ChoiceProblem(num=([1.0, 2.0],), den=([1.0, 1.0],))
    with pytest.raises(HarnessError, match="unknown ratio method 'newton'"):
        solve(p, backend, ratio="newton")
    with pytest.raises(HarnessError, match="unknown option 'bogus'"):
        solve(p, backend, bogus=1)


def test_cpsat_refuses_charnes_cooper_politely():
    p = ChoiceProblem(num=([1.0, 2.0],), den=([1.0, 1.0],))
    sol = solve(p, "cpsat", ratio="charnes-cooper")
    assert sol.status == "unavailable" and "dinkelbach" in sol.reason


def test_bnb_reports_nodes():
    rng = np.random.default_rng(5)
    n = [6] * 8
    p = ChoiceProblem(num=[rng.normal(size=v) for v in n],
                      constraints=[Constraint("a", [rng.uniform(0, 1, size=v) for v in n], 3.0),
                                   Constraint("b", [rng.uniform(0, 1, size=v) for v in n], 3.5)])
    sol = solve(p, "bnb")
    assert sol.status == "optimal" and sol.nodes >= 1
    check_against_enumeration(p, sol, solve(p, "enumerate"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(ratio=False), seed=st.integers(0, 2**16))
def test_knapsack_cuts_and_dominance_are_exact(problem, seed):
    """bnb's cuts never remove a feasible code; fixing dominated choices keeps the optimum value."""
    from solvers.milp import dominated_choices, knapsack_cuts

    model = build_linear(problem)
    codes = np.array(list(np.ndindex(*problem.num_choices)))
    lifted = np.array([model.lift(c) for c in codes])
    feasible = np.array([model.violation(z) <= 1e-12 for z in lifted])
    x = np.random.default_rng(seed).random(model.num_vars)        # any point: cuts violated by it
    A, hi = knapsack_cuts(model, x, min_violation=-np.inf)
    if A is not None:
        assert np.all((lifted[feasible] @ A.T.toarray()) <= hi + 1e-9)
    if feasible.any():
        dom = dominated_choices(model)
        keep = feasible & ~lifted[:, : model.nx][:, dom].any(axis=1)
        best = max(model.value(z) for z in lifted[feasible])
        assert keep.any() and max(model.value(z) for z in lifted[keep]) == pytest.approx(best, abs=1e-12)


def test_regression_tight_ratio_problem_found_by_hypothesis():
    """CP-SAT with 2**40-scaled coefficients called a worse code optimal here (0.1667 instead of 0.2)."""
    a = np.array
    problem = ChoiceProblem(
        num=(a([0., 0, 0, 0]), a([0, 0, 0.1, 0]), a([0., 0]), a([0., 0, 0]), a([0, -0.1, 0])),
        den=(a([0.1, 0.1, 0.1, 0.2]), a([0.1, 0.1, 0.1, 0.1]), a([0.1, 0.1]), a([0.1, 0.1, 0.1]), a([0.1, 0.1, 0.1])),
        constraints=(
            Constraint("r0", (a([0, 0, 0.9, 0]), a([0.5, 0.5, 0.5, 0]), a([0., 0]), a([0., 0, 0]), a([0.4, 0, 0.1])), 1.44),
            Constraint("r1", (a([0., 0, 0, 0]), a([0, 0, 0, 0.1]), a([0., 0]), a([0., 0, 0]), a([0., 0, 0])), 0.0),
            Constraint("r2", (a([0.1, 0.1, 0, 0.1]), a([0.1, 0, 0, 0]), a([0., 0]), a([0., 0, 0]), a([0., 0, 0])), 0.1)),
        name="regression")
    ref = solve(problem, "enumerate")
    assert ref.objective == pytest.approx(0.2)
    for backend in available_backends():
        check_against_enumeration(problem, solve(problem, backend, time_limit=20), ref)


@pytest.mark.parametrize("backend", [b for b in MILP_BACKENDS if b != "cpsat"])
def test_exactly_tight_row_of_a_charnes_cooper_model(backend):
    """Found by the hypothesis search above: the optimum (0, 2) meets its limit with equality; Gurobi at 1e-9
    tolerances presolved that row away and returned (1, 3) as optimal."""
    needs(backend)
    p = ChoiceProblem(num=(np.array([0., 0.]), np.array([0., 0., -0.1, -0.2])),
                      den=(np.array([1.1, 1.7]), np.array([0.1, 1.2, 0.1, 0.6])), den_const=2.0,
                      constraints=(Constraint("r0", (np.array([0., 0.1]), np.array([0.9, 0.9, 0.8, 0.])), 0.8),))
    ref = solve(p, "enumerate")
    assert list(ref.code) == [0, 2]
    for ratio in ("charnes-cooper", "dinkelbach"):
        check_against_enumeration(p, solve(p, backend, ratio=ratio), ref)
