"""The DeviceProfile contract, over every registered profile and every registered space it covers.

One value per row of the space, units declared, values positive, NaN only where a profile may leave a
row unmeasured (live and user profiles); capabilities, not kind strings, say what a profile can do."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import HarnessError
from core.protocols import DeviceProfile
from core.registry import SPACES
from devices import registered
from spaces import load_space


def _cases():
    out = []
    for name, profile in registered().items():
        for space in SPACES.names():
            if profile.covers(space):
                out.append(pytest.param(name, space, id=f"{name}@{space}"))
    return out


@pytest.mark.parametrize("name, space_name", _cases())
def test_one_positive_value_per_row_with_units(name, space_name):
    profile: DeviceProfile = registered()[name]
    space = load_space(space_name)
    dataset = next((d for d in space.tasks if profile.covers(space_name, d)), None)
    if dataset is None:
        pytest.skip(f"{name} covers no dataset of {space_name}")
    try:
        values = profile.values(space, dataset, None)
    except HarnessError as e:   # e.g. a live profile with nothing measured, a column only imported folders have
        assert "\n" not in str(e) and name in str(e)
        return
    assert values and set(values) <= set(profile.metrics) <= {"latency", "energy"}
    for metric, v in values.items():
        v = np.asarray(v, dtype=np.float64)
        assert v.shape == (space.size,)
        assert profile.units[metric]                       # a declared unit
        known = np.isfinite(v)
        assert np.all(v[known] > 0)
        if not (profile.live or profile.kind == "file"):   # only these may leave rows unmeasured (NaN)
            assert known.all()


@pytest.mark.parametrize("name", list(registered()))
def test_capabilities_match_what_the_profile_does(name):
    profile = registered()[name]
    assert isinstance(profile.live, bool) and profile.source
    if not profile.live:
        with pytest.raises(HarnessError, match="cannot measure"):
            profile.measure(load_space("nb201"), "cifar10", [0], None)
    else:
        assert callable(profile.measurer)
    with pytest.raises(HarnessError):
        profile.values(load_space("nb201"), "no-such-dataset", None) if profile.covers("nb201") else \
            profile.check_covers("nb201", "cifar10")
