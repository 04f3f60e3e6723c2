"""The block-profiling variant contract, over every registered variant (the example plug-in's included):
exact on an additive synthetic space, and every evaluation is counted (and refused beyond the budget)."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import HarnessError
from core.registry import VARIANTS
from mathnas.blocks import FunctionEvaluator, Profiler, SpaceSpec
from mathnas.variants import run_variant
from spaces.synthetic import make_space

# Settings under which a variant is expected to be exact (sampled: its Eq. 3 average over every network).
EXACT = {"sampled": {"fraction": 1.0}}


@pytest.fixture(scope="module")
def additive():
    sp = make_space(5, 3, seed=3, strength=0.0, hw_strength=0.0)
    return sp, SpaceSpec(num_choices=sp.num_choices, costs=sp.costs, name=sp.name)


def _profiler(sp, spec, budget=None):
    ev = FunctionEvaluator(lambda metric, codes: sp.true_metric(metric, codes), metrics=("accuracy", "latency"),
                           budget=budget)
    return Profiler(spec, ev, base="largest", seed=0), ev


@pytest.mark.parametrize("name", VARIANTS.names())
def test_exact_on_an_additive_space(name, additive):
    sp, spec = additive
    prof, ev = _profiler(sp, spec)
    tables = run_variant(name, prof, **EXACT.get(name, {}))
    codes = sp.codes()
    pred = tables.predict(codes, flops_scaling=False)
    np.testing.assert_allclose(pred["accuracy"], sp.true_metric("accuracy", codes), atol=1e-9)
    np.testing.assert_allclose(pred["latency"], sp.true_metric("latency", codes), atol=1e-9)


@pytest.mark.parametrize("name", VARIANTS.names())
def test_evaluations_are_counted_and_budgeted(name, additive):
    sp, spec = additive
    prof, ev = _profiler(sp, spec)
    run_variant(name, prof, **EXACT.get(name, {}))
    assert 1 <= ev.queries <= sp.size
    prof, _ = _profiler(sp, spec, budget=0)
    with pytest.raises(HarnessError, match="budget"):
        run_variant(name, prof, **EXACT.get(name, {}))
