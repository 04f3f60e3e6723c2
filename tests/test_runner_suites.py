"""The shipped suites are valid and cover what they promise (validation and expansion only; nothing runs)."""
from __future__ import annotations

from pathlib import Path

from core.registry import METHODS
from harness.plan import expand
from harness.run import plan
from harness.suite import load_suite
from spaces import load_space

SUITES = Path(__file__).resolve().parents[1] / "harness" / "suites"


def registry() -> set[str]:
    """The methods this distribution registers (the tests' example plug-in registers one more)."""
    return {n for n in METHODS.names() if METHODS.reference(n).split(".")[0] in ("mathnas", "baselines")}


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
    assert {"cifar10", "cifar100", "imagenet16_120"} <= set(suite.datasets)
    assert {"fpga", "raspi4", "pixel3", "pi5-onnx"} <= set(suite.devices)
    assert len(suite.seeds) >= 3 and {"predict", "search", "solvers"} <= set(suite.tasks)
    nb201_latency = [e for t in suite.limits if t.spaces == ["nb201"] and t.devices is None for e in t.entries()]
    assert len(nb201_latency) == 3
    assert any("energy" in e for t in suite.limits if t.devices == ["pi5-onnx"] for e in t.entries())
    p = plan(suite)
    assert any("pi5-onnx has no measurements for imagenet16_120" in n for n in p["notes"])
    assert p["per_task"]["solvers"] > 0 and p["per_task"]["search"] > 1000


def test_bench_spans_six_spaces():
    """Issue 12: Macro, TransNAS (3 tasks, one lower-is-better), Graph (3 datasets) searched and predicted by
    every method; FBNet and OFA latency predicted and never searched (no accuracy); NB201 keeps its cells."""
    suite = load_suite(SUITES / "bench.toml")
    cells, notes = expand(suite, strict=False)
    cells = [c.spec for c in cells]

    def of(space, task):
        return [c for c in cells if c.get("space") == space and c["task"] == task]

    for space in ("nasbench_macro", "transnas101", "nasbench_graph"):
        for task in ("predict", "search"):
            assert {c["method"] for c in of(space, task)} == registry() - ({"random", "evolution"} if task ==
                                                                           "predict" else {"brpnas"}), (space, task)
    assert {c["dataset"] for c in of("transnas101", "search")} == {"class_scene", "class_object", "room_layout"}
    assert load_space("transnas101").tasks["room_layout"].direction == "lower"
    assert len({c["dataset"] for c in of("nasbench_graph", "search")}) >= 3
    assert {c["limit_label"] for c in of("nasbench_macro", "search")} == {"params<=q0.25", "params<=q0.5"}
    assert all(c["limits"] == {} for c in of("transnas101", "search"))
    assert all(c.get("regime", "free") == "free" for c in of("transnas101", "search"))   # no hardware: one regime
    for space in ("fbnet", "ofa_mbv3"):
        assert of(space, "predict") and not of(space, "search")
        labels = {c["label"].rstrip("†") for c in of(space, "predict")}
        assert {"brpnas-graph", "mathnas-full", "mathnas-sampled"} <= labels
    # MathNAS single and LANA need a device that answers any code: FBNet's per-layer tables, not OFA's samples
    assert {c["device"] for c in of("fbnet", "predict") if c["label"] in ("lana", "mathnas-single")} == \
        {"fpga", "raspi4", "pixel3"}
    assert not [c for c in of("ofa_mbv3", "predict") if c["label"] in ("lana", "mathnas-single")]
    for space in ("fbnet", "ofa_mbv3"):
        assert any(f"{space}/" in n and "no accuracy" in n for n in notes)
    assert not of("nb201", "search") or {c["device"] for c in of("nb201", "search")} == {"fpga", "raspi4", "pixel3",
                                                                                       "pi5-onnx"}


def test_bench_is_a_fair_protocol():
    """Free and blind hardware; every searcher with a budget at 26 and 100; MathNAS with and without repair;
    baselines at their published settings (BRP-NAS: only the documented schedule/bf16 deviations, in its label)."""
    suite = load_suite(SUITES / "bench.toml")
    assert {"free", "blind"} <= set(suite.hardware.regimes)
    searchers = [m for m in suite.methods if "search" in m.tasks]
    for m in searchers:
        assert m.budget == [26, 100] or (m.budget is None and m.name == "mathnas"), m.display
    repair = [m.params.get("repair", 0) for m in searchers if m.name == "mathnas" and m.params.get("variant") == "single"]
    assert sorted(repair)[0] == 0 and sorted(repair)[-1] > 0
    brp = next(m for m in suite.methods if m.name == "brpnas")
    params = {d.split(":")[0] for d in brp.deviations if "(published: " in d}     # the rest: implementation
    assert params == {"schedule", "latency_bf16"} and brp.display == "brpnas†"
    evo = next(m for m in suite.methods if m.name == "evolution")
    assert evo.deviations == [] and evo.display == "evolution"
