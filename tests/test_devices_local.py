"""The local-cpu profile: real torch timings, their noise, the resumable cache, NaN = not measured."""
from __future__ import annotations

import json

import numpy as np
import pytest

from devices import local
from devices import get_profile
from harness.cli import main
from spaces.nb201_data import load_tables
from evaluation.groundtruth import ground_truth

REPEATS, WARMUP = 7, 2


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """An empty cache folder seen by every command (through the environment), and fresh ground truth."""
    monkeypatch.setenv(local.ENV_CACHE, str(tmp_path))
    ground_truth.cache_clear()
    yield tmp_path
    ground_truth.cache_clear()


def test_measurement_is_repeatable_and_the_cache_resumes(cache):
    tables = load_tables()
    rows = local.sample_rows(3, seed=11)
    first = local.measure(tables.space, rows, "cifar10", repeats=REPEATS, warmup=WARMUP, progress=False)
    assert (first.new, first.cached) == (3, 0)
    frame = first.frame.set_index("arch_index")
    assert set(frame.index) == set(rows.tolist())
    assert (frame["threads"] == 1).all() and (frame["batch"] == 1).all() and (frame["repeats"] == REPEATS).all()
    assert (frame["torch_version"] == local.torch_version()).all() and (frame["cpu_model"] == local.cpu_model()).all()
    assert (frame["iqr_ms"] >= 0).all() and (frame["q25_ms"] <= frame["median_ms"]).all()

    # (whether a second timing agrees within the noise is measured in benchmarks/bench_local_noise.py)
    second = local.measure(tables.space, rows, "cifar10", repeats=REPEATS, warmup=WARMUP, progress=False)
    assert (second.new, second.cached) == (0, 3)
    np.testing.assert_array_equal(second.frame.sort_values("arch_index")["median_ms"],
                                  first.frame.sort_values("arch_index")["median_ms"])
    # a larger sample with the same seed extends the smaller one: only the new one is measured
    assert np.array_equal(local.sample_rows(4, seed=11)[:3], rows)

    values = get_profile("local-cpu").values(tables.space, "cifar10", None)["latency"]
    assert np.isfinite(values).sum() == 3 and np.all(np.isfinite(values[rows]))

    # optimum under a latency limit: only measured architectures can be feasible
    limit = float(np.max(values[rows]))
    assert main(["optimum", "--dataset", "cifar10", "--device", "local-cpu", "--max-latency", str(limit)]) == 0
    gt = ground_truth("cifar10", "local-cpu")
    best = rows[np.argmax(tables.accuracy["cifar10"][rows])]
    from evaluation.groundtruth import optimum

    found = optimum(gt, {"latency": limit})
    assert found.row == best and found.feasible_count == 3

    # scoring a searcher's find: an unmeasured architecture is measured on demand, a measured one is reused
    extra = int(local.sample_rows(4, seed=11)[3])
    got = local.ensure_measured("local-cpu", tables.space, "cifar10", [rows[0], extra])
    assert got[0] == frame.loc[rows[0], "median_ms"] and np.isfinite(got[1])
    assert np.isfinite(local.measured_values(tables.space, "cifar10")).sum() == 4


def test_cli_measure_json_and_other_configurations(cache, capsys):
    rc = main(["devices", "measure", "local-cpu-b2-t1", "--sample", "1", "--seed", "3", "--repeats", "3",
               "--warmup", "0", "--quiet", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["batch"] == 2 and out["new"] == 1 and out["device"] == "local-cpu-b2-t1"
    assert out["estimate_all_seconds"] > 0 and local.Config.here("cifar10", 2, 1).file(cache).is_file()
    # the batch-1 profile knows nothing about it
    rc = main(["optimum", "--dataset", "cifar10", "--device", "local-cpu", "--max-latency", "5"])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().count("\n") == 0 and "devices measure local-cpu --dataset cifar10" in err


@pytest.mark.parametrize("argv, needle", [
    (["--repeats", "2"], "--repeats"),
    (["--batch", "0"], "--batch"),
    (["--sample", "0"], "--sample"),
    (["--dataset", "mnist"], "unknown dataset 'mnist'"),
])
def test_measure_rejects_bad_options(cache, capsys, argv, needle):
    rc = main(["devices", "measure", "local-cpu", "--quiet", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().count("\n") == 0 and needle in err
