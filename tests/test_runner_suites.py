"""The shipped suites are valid and cover what they promise (validation and expansion only; nothing runs)."""
from __future__ import annotations

from pathlib import Path

from harness.runner import load_suite, plan

SUITES = Path(__file__).resolve().parents[1] / "harness" / "suites"


def registry() -> set[str]:
    """The registered methods (other tests add their own plug-ins at run time; leave those out)."""
    from harness.methods import METHODS

    return {name for name, ref in METHODS.items() if not ref.startswith("test_")}


def test_smoke_touches_every_task_and_method():
    suite = load_suite(SUITES / "smoke.toml")
    assert {"predict", "search", "solvers"} <= set(suite.tasks)
    assert {m.name for m in suite.methods} == registry()
    assert {m.params.get("variant") for m in suite.methods if m.name == "mathnas"} == {"single", "full", "sampled"}
    p = plan(suite)
    assert set(p["per_task"]) == {"predict", "search", "groundtruth", "solvers"} and p["cells"] < 400


def test_bench_covers_methods_datasets_devices_limits_seeds():
    suite = load_suite(SUITES / "bench.toml")
    assert {m.name for m in suite.methods} == registry()
    assert {m.params.get("variant") for m in suite.methods if m.name == "mathnas"} == {"single", "full", "sampled"}
    assert set(suite.datasets) == {"cifar10", "cifar100", "imagenet16_120"}
    assert {"fpga", "eyeriss", "raspi4", "pixel3", "gold_6226", "pi5-onnx", "local-cpu"} <= set(suite.devices)
    assert len(suite.seeds) == 5 and {"predict", "search", "solvers"} <= set(suite.tasks)
    latency_sets = [s for s in suite.limits if s.devices is None]
    assert len(latency_sets) == 3
    assert any("energy" in s.parts for s in suite.limits if s.devices == ["pi5-onnx"])
    p = plan(suite)
    assert any("pi5-onnx has no measurements for imagenet16_120" in n for n in p["notes"])
    assert p["per_task"]["solvers"] > 0 and p["per_task"]["search"] > 1000
