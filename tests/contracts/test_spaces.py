"""The Space contract, over every registered space (the example plug-in's included).

Codes round-trip through the benchmark's own arch strings, `enumerate` and `index` are inverses, every
code maps to one canonical row, tasks describe their metric, and costs and accuracies fit the rows."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import HarnessError
from core.protocols import BlockCosts, Space, Task
from core.registry import SPACES
from spaces import load_space

SAMPLE = 3000   # rows checked per space (all of them for small spaces)


@pytest.fixture(scope="module", params=SPACES.names())
def space(request):
    return load_space(request.param)


def _rows(space) -> np.ndarray:
    n = space.size
    return np.arange(n) if n <= SAMPLE else np.sort(np.random.default_rng(0).choice(n, SAMPLE, replace=False))


def test_is_a_space_with_consistent_shape(space):
    assert isinstance(space, Space)
    assert space.num_nodes == len(space.num_choices) == len(space.choice_names)
    assert all(len(names) == n for names, n in zip(space.choice_names, space.num_choices))
    codes = space.enumerate()
    assert codes.shape == (space.size, space.num_nodes) and codes.dtype.kind == "i"
    assert codes.min() >= 0 and np.all(codes < np.asarray(space.num_choices))


def test_enumerate_and_index_are_inverses_and_rows_are_distinct(space):
    rows = _rows(space)
    codes = space.enumerate()[rows]
    np.testing.assert_array_equal(space.index(codes), rows)
    assert np.unique(space.enumerate(), axis=0).shape[0] == space.size   # one row per canonical code


def test_arch_strings_round_trip(space):
    for code in space.enumerate()[_rows(space)[:500]]:
        arch = space.decode(code)
        assert isinstance(arch, str) and arch
        np.testing.assert_array_equal(space.encode(arch), code)


def test_sampled_codes_map_to_canonical_rows_and_are_seeded(space):
    a, b = space.sample(64, 7), space.sample(64, 7)
    np.testing.assert_array_equal(a, b)
    if hasattr(space, "lookup"):   # rows are published samples of a larger space: a sampled code may have none
        rows = space.lookup(a)
        np.testing.assert_array_equal(space.lookup(space.enumerate()[_rows(space)]), _rows(space))
        if (rows < 0).any():
            with pytest.raises(HarnessError) as e:
                space.index(a[rows < 0][:1])
            assert "\n" not in str(e.value)
        rows = rows[rows >= 0]
    else:
        rows = space.index(a)
    # the canonical row of a sampled code is a fixed point: indexing its code gives the same row back
    np.testing.assert_array_equal(space.index(space.enumerate()[rows]), rows)


def test_bad_arch_strings_are_one_line_errors(space):
    for bad in ("", "no such architecture", "x" * 100_000):
        with pytest.raises(HarnessError) as e:
            space.encode(bad)
        assert "\n" not in str(e.value) and len(str(e.value)) < 2000


def test_tasks_describe_their_metric_and_fit_the_rows(space):
    assert isinstance(space.tasks, dict)
    for name, task in space.tasks.items():
        assert isinstance(task, Task) and task.name == name and task.direction in ("higher", "lower")
        for split in {task.search_split, task.score_split}:
            if not task.has_accuracy:   # hardware-only: no accuracy (one line), the splits name rows
                with pytest.raises(HarnessError) as e:
                    space.accuracy(name, split)
                assert "\n" not in str(e.value)
                mask = np.asarray(space.split_mask(name, split))
                assert mask.shape == (space.size,) and mask.dtype == bool and mask.any()
                continue
            acc = np.asarray(space.accuracy(name, split))
            assert acc.shape == (space.size,) and np.all(np.isfinite(acc))


def test_block_costs_fit_the_choices(space):
    for dataset in list(space.tasks)[:2] or [None]:
        costs = space.block_costs(dataset)
        if costs is None:
            continue
        assert isinstance(costs, BlockCosts)
        assert tuple(len(b) for b in costs.block_flops) == tuple(space.num_choices)
        assert tuple(len(b) for b in costs.block_params) == tuple(space.num_choices)
        flops = costs.flops(space.enumerate()[_rows(space)])
        assert np.all(flops > 0) and np.all(np.isfinite(flops))
