"""Scoring on partially measured profiles (a user's device file): unmeasured rows are never feasible,
never on the front, and a found unmeasured architecture is reported as such, not as infeasible."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.sources import Sources
from evaluation.evaluate import score_code
from evaluation.groundtruth import ground_truth, optimum, pareto_front


@pytest.fixture(scope="module")
def partial_device(tmp_path_factory):
    """A device file listing 200 architectures: latency = fpga latency * 2."""
    fpga = ground_truth("cifar10", "fpga")
    rows = np.random.default_rng(5).choice(fpga.accuracy.size, 200, replace=False)
    path = tmp_path_factory.mktemp("dev") / "mylab_gpu.csv"
    pd.DataFrame({"arch_index": rows, "latency_ms": 2 * fpga.latency[rows]}).to_csv(path, index=False)
    return ground_truth("cifar10", "mylab_gpu", Sources(device_files=(str(path),))), rows


def test_optimum_and_front_only_over_measured_rows(partial_device):
    gt, rows = partial_device
    best = optimum(gt, {"latency": float(np.nanmedian(gt.latency))})
    assert best.row in set(rows.tolist())
    assert best.accuracy == gt.accuracy[rows][gt.latency[rows] <= np.nanmedian(gt.latency)].max()
    front = pareto_front(gt, ("latency",))
    assert set(front.tolist()) <= set(rows.tolist()) and np.isfinite(gt.latency[front]).all()
    # without a limit the optimum is still a measured architecture
    assert optimum(gt, {}).row in set(rows.tolist())


def test_unmeasured_found_architecture_is_not_called_infeasible(partial_device):
    gt, rows = partial_device
    unmeasured = next(r for r in range(gt.accuracy.size) if r not in set(rows.tolist()))
    scored = score_code(gt, gt.codes[unmeasured], {"latency": 1e9})
    assert scored["unmeasured"] is True and scored["feasible"] is None
    measured = score_code(gt, gt.codes[rows[0]], {"latency": 1e9})
    assert measured["feasible"] is True and "unmeasured" not in measured
    assert score_code(gt, gt.codes[rows[0]], {"latency": 0.0})["feasible"] is False
