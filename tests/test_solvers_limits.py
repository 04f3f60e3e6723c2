"""Time limits and licence limits end in a status, never an exception."""
from __future__ import annotations

import numpy as np
import pytest

from core.registry import SOLVERS
from solvers import ChoiceProblem, Constraint, backend_names, backend_status, solve

MILP_BACKENDS = [b for b in backend_names() if b != "enumerate" and SOLVERS.reference(b).startswith("solvers.")]
from analyses.solver_bench import synthetic_problem
from spaces.synthetic import make_space


def needs(backend):
    ok, why = backend_status(backend)
    if not ok:
        pytest.skip(f"{backend} unavailable: {why}")


@pytest.fixture(scope="module")
def hard_problem():
    # 100 x 30 = 3000 binaries, two tight limits, ratio objective: none of the backends proves this in 50 ms
    return synthetic_problem(make_space(100, 30, seed=4, strength=0.3), "accuracy/flops", latency_q=0.2, energy_q=0.2)


@pytest.mark.parametrize("backend", MILP_BACKENDS)
def test_time_limit_is_a_status(backend, hard_problem):
    needs(backend)
    sol = solve(hard_problem, backend, time_limit=0.05)
    assert sol.status in ("time_limit", "optimal", "unavailable"), (sol.status, sol.reason)
    if sol.status == "unavailable":   # only the size-limited Gurobi licence may say no here
        assert backend == "gurobi" and "license" in sol.reason.lower()
        return
    if sol.status == "time_limit":
        assert "time limit" in sol.reason.lower()
    if sol.code is not None:
        assert bool(hard_problem.feasible(sol.code)[0])
        assert sol.objective == pytest.approx(float(hard_problem.objective(sol.code)[0]))


def test_time_limit_zero_budget():
    p = synthetic_problem(make_space(20, 10, seed=1), "accuracy", 0.3, 0.3)
    for backend in ("highs", "bnb"):
        sol = solve(p, backend, time_limit=0.0)
        assert sol.status == "time_limit" and sol.reason
        if sol.code is not None:           # the greedy start code, exactly feasible
            assert bool(p.feasible(sol.code)[0])


def test_enumerate_time_limit_and_size_limit():
    big = synthetic_problem(make_space(30, 10, seed=0), "accuracy", None, None)
    assert solve(big, "enumerate").status == "unavailable"
    huge = synthetic_problem(make_space(200, 50, seed=0), "accuracy", 0.5, None)   # 50**200 codes
    sol = solve(huge, "enumerate")
    assert sol.status == "unavailable" and "6.22e339 codes" in sol.reason
    mid = synthetic_problem(make_space(8, 8, seed=0), "accuracy", 0.5, None)   # 16.7M codes
    sol = solve(mid, "enumerate", time_limit=0.01)
    assert sol.status == "time_limit"


def test_gurobi_size_limited_licence_is_unavailable():
    needs("gurobi")
    rng = np.random.default_rng(0)
    n = [50] * 45                                      # 2250 binaries > 2000
    p = ChoiceProblem(num=[rng.normal(size=k) for k in n],
                      constraints=[Constraint("lat", [rng.uniform(0, 1, size=k) for k in n], 10.0)])
    sol = solve(p, "gurobi", time_limit=10)
    if sol.status == "optimal":
        pytest.skip("this Gurobi licence is unrestricted")
    assert sol.status == "unavailable"
    assert "size-limited license" in sol.reason and sol.code is None
    assert "\n" not in sol.reason


def test_gurobi_charnes_cooper_too_large_but_dinkelbach_fits():
    needs("gurobi")
    p = synthetic_problem(make_space(60, 20, seed=2), "accuracy/flops", 0.3, 0.3)   # CC: 2401 vars; Dinkelbach: 1200
    forced = solve(p, "gurobi", time_limit=30, ratio="charnes-cooper")
    if forced.status == "optimal":
        pytest.skip("this Gurobi licence is unrestricted")
    assert forced.status == "unavailable" and "license" in forced.reason
    sol = solve(p, "gurobi", time_limit=30)
    assert sol.status == "optimal" and sol.extra["formulation"] == "dinkelbach"
    assert sol.objective == pytest.approx(solve(p, "highs").objective, rel=1e-6)
