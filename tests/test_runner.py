"""Runner: suite validation, resume (re-run and SIGKILL), failing cells, concurrent writers, executors."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_runner_methods import REPO, TINY, subprocess_env, write_suite

from harness.cli import main
from core.errors import HarnessError
from harness.plan import expand
from harness.run import run
from harness.suite import load_suite
from harness.store import ResultStore


def table(out):
    return ResultStore(out).read(drop_timing=True)


def test_run_twice_does_no_work_the_second_time(tmp_path):
    suite = write_suite(tmp_path, TINY)
    first = run(suite, tmp_path / "out", executor="serial", progress=False)
    # 2 datasets x 2 devices x 2 seeds predict + x 2 limits search + 4 ground-truth cells
    assert (first.total, first.ran, first.skipped, first.failed) == (28, 28, 0, 0)
    before = table(tmp_path / "out")
    second = run(suite, tmp_path / "out", executor="serial", progress=False)
    assert (second.ran, second.skipped, second.failed) == (0, 28, 0)
    pd.testing.assert_frame_equal(before, table(tmp_path / "out"))
    assert before["key"].is_unique and (before["status"] == "ok").all()
    search = before[before["task"] == "search"]
    assert search["regret"].notna().all() and search["limits.latency"].notna().all()
    assert set(search["limit_label"]) == {"latency<=q0.3", "latency<=q0.7"}


def test_failing_cell_is_marked_and_retried(tmp_path, capsys):
    suite = write_suite(tmp_path, TINY + """
[[methods]]
name = "fail"
entry = "test_runner_methods:Failing"
tasks = ["search"]
""")
    code = main(["run", suite, "--out", str(tmp_path / "out"), "--executor", "serial", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "44 cells ran, 0 skipped as done, 8 failed" in out
    assert "deliberate failure on cifar100" in err
    frame = ResultStore(tmp_path / "out").read()
    failed = frame[frame["status"] == "failed"]
    assert len(failed) == 8 and set(failed["dataset"]) == {"cifar100"} and set(failed["label"]) == {"fail"}
    assert failed["error"].str.contains("RuntimeError: deliberate failure").all()
    fine = frame[(frame["label"] == "fail") & (frame["status"] == "ok")]
    assert len(fine) == 8 and fine["regret"].notna().all()  # cifar10 cells of the same method completed
    again = run(suite, tmp_path / "out", executor="serial", progress=False)
    assert (again.ran, again.skipped, again.failed) == (8, 36, 8)  # only the failed cells are retried


BAD = [
    ("bogus = 1", "suite.toml: bogus: unknown key; valid: name"),
    ('datasets = ["cifar10"]\ndevices = ["fpga"]\n[[methods]]\nname = "x"\nentry = "test_runner_methods:Additive"\n'
     '[[methods]]\nname = "y"\nentry = "test_runner_methods:Additive"\n[[methods]]\nname = "z"\n'
     'entry = "test_runner_methods:Additive"\nbudget = -5', "suite.toml: methods[2].budget: must be >= 1, got -5"),
    ('datasets = ["cifar11"]', "suite.toml: datasets[0]: unknown dataset 'cifar11'"),
    ('datasets = ["cifar10"]\ndevices = ["fpga", "toaster"]', "suite.toml: devices[1]: unknown device 'toaster'"),
    ('datasets = ["cifar10"]\ndevices = ["fpga"]\n[[methods]]\nname = "nosuch"', "methods[0].name: unknown method 'nosuch'"),
    ('datasets = ["cifar10"]\ndevices = ["fpga"]\n[[methods]]\nname = "mathnas"\nvariant = "nope"',
     "methods[0].variant: unknown MathNAS variant 'nope'"),
    ('datasets = ["cifar10"]\ndevices = ["fpga"]\n[[methods]]\nname = "a"\nentry = "test_runner_methods:Additive"\n'
     'trian_size = 3', "methods[0].trian_size: method 'a' takes no parameter 'trian_size'"),
    ('datasets = ["cifar10"]\ndevices = ["fpga"]\n[[methods]]\nname = "mathnas"\nsolver = "cplex"',
     "methods[0].solver: unknown solver 'cplex'"),
    ('seeds = "three"', "suite.toml: seeds: must be a count of seeds or a non-empty list of seeds, got 'three'"),
    ("[[limits]]\nlatency = -1.0", "suite.toml: limits[0].latency: must be >= 0, got -1.0"),
    ("[[limits]]\nlatency_quantiles = [0.5, 1.5]", "limits[0].latency_quantiles[1]: must be <= 1, got 1.5"),
    ("[[limits]]\nlatency_quantiles = [0.2, 0.5]\nenergy_quantiles = [0.1, 0.2, 0.3]",
     "limits[0].latency_quantiles: has 2 values but another limit of this table has 3"),
    ('tasks = ["predict", "train"]', "suite.toml: tasks[1]: unknown value; valid: 'predict', 'search', 'solvers' or 'claims', got 'train'"),
    ('tasks = ["solvers"]\n[solvers]\nbackends = ["cplex"]', "suite.toml: solvers.backends[0]: unknown solver 'cplex'"),
    ('tasks = ["solvers"]\n[solvers]\nfamilies = ["small"]\ntime_limit = -1', "solvers.time_limit: must be > 0"),
    ('tasks = ["solvers"]\n[solvers]\nfamilies = ["small"]\ntimelimit = 1', "solvers.timelimit: unknown key"),
    ("name = [1", "suite.toml: invalid TOML"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[m.split(": ", 1)[1][:30] for _, m in BAD])
def test_invalid_suites_fail_before_running(tmp_path, monkeypatch, text, message):
    path = write_suite(tmp_path, text)
    monkeypatch.chdir(tmp_path)  # the error names the file as given
    with pytest.raises(HarnessError) as e:
        run("suite.toml", tmp_path / "out", executor="serial", progress=False)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()  # nothing ran, no store created
    assert os.path.isfile(path)


def test_invalid_suite_cli_is_one_line_exit_2(tmp_path, capsys):
    path = write_suite(tmp_path, "seeds = -1")
    assert main(["run", path, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "seeds: a count of seeds must be in 1..1000, got -1" in err


def test_unsupported_pairs_and_missing_metrics_are_skipped_with_notes(tmp_path):
    suite = load_suite(write_suite(tmp_path, """
datasets = ["imagenet16_120"]
devices = ["fpga", "pi5-onnx"]
[[limits]]
energy_quantiles = [0.5]
[[limits]]
latency = [2.0]
[[methods]]
name = "a"
entry = "test_runner_methods:Additive"
[[exclude]]
task = "predict"
"""))
    cells, notes = expand(suite)
    assert {c.spec["device"] for c in cells} == {"fpga"}
    assert {c.spec["task"] for c in cells} == {"search", "groundtruth"}
    assert [c.spec["limits"] for c in cells if c.spec["task"] == "search"] == [{"latency": 2.0}]
    assert any("pi5-onnx has no measurements for imagenet16_120" in n for n in notes)
    assert any("no energy measurements" in n for n in notes)


def _cells_in(out):
    d = out / "cells"
    return len(list(d.glob("*.parquet"))) if d.is_dir() else 0


SLEEPY = TINY.replace("Additive", "Sleepy").replace('name = "tiny"', 'name = "sleepy"')


@pytest.mark.slow
def test_sigkill_mid_run_resumes_to_the_same_table(tmp_path):
    suite = write_suite(tmp_path, SLEEPY)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", suite, "--out", str(out),
                             "--executor", "serial", "--no-progress"], cwd=REPO,
                            env=subprocess_env(SLEEPY_SECONDS="0.5"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _cells_in(out) < 14 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    landed = _cells_in(out)
    assert 14 <= landed < 28, landed  # killed half-way
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLEEPY_SECONDS", "0")
        resumed = run(suite, out, executor="serial", progress=False)
        run(suite, tmp_path / "fresh", executor="serial", progress=False)
    assert resumed.skipped == landed and resumed.ran == 28 - landed and resumed.failed == 0
    assert not list(out.rglob("*.tmp"))
    pd.testing.assert_frame_equal(table(out), table(tmp_path / "fresh"))


@pytest.mark.slow
def test_two_writers_on_one_store_both_succeed(tmp_path):
    suite = write_suite(tmp_path, SLEEPY)
    out = tmp_path / "shared"
    cmd = [sys.executable, "-m", "harness.cli", "run", suite, "--out", str(out), "--executor", "serial", "--no-progress"]
    env = subprocess_env(SLEEPY_SECONDS="0.05")
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1][-500:] for r in results]
    frame = table(out)
    assert len(frame) == 28 and frame["key"].is_unique and (frame["status"] == "ok").all()
    assert _cells_in(out) == 28
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLEEPY_SECONDS", "0")
        again = run(suite, out, executor="serial", progress=False)
    assert again.ran == 0


@pytest.mark.slow
@pytest.mark.slow
def test_serial_process_and_ray_give_the_same_table(tmp_path):
    suite = write_suite(tmp_path, TINY.replace("seeds = 2", "seeds = 1").replace('"cifar10", "cifar100"', '"cifar100"')
                        + """
[[methods]]
name = "mathnas"
variant = "single"
solver = "highs"
[[methods]]
name = "fail"
entry = "test_runner_methods:Failing"
tasks = ["search"]
""")
    summaries = {ex: run(suite, tmp_path / ex, executor=ex, jobs=2, progress=False)
                 for ex in ("serial", "process", "ray")}
    # 2 devices x (2 predict + 3 methods x 2 limits search + 1 ground truth); Failing fails on cifar100
    assert {(s.ran, s.failed) for s in summaries.values()} == {(18, 4)}
    serial = table(tmp_path / "serial")
    assert set(serial["label"].dropna()) == {"additive", "mathnas-single", "fail"}
    for ex in ("process", "ray"):
        pd.testing.assert_frame_equal(serial, table(tmp_path / ex), check_exact=True)


def _children(pid: int) -> set[int]:
    """Every descendant process of `pid` (read from /proc)."""
    kids, frontier = set(), {pid}
    while frontier:
        parent, frontier = frontier, set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) in parent:
                frontier.add(int(stat.parent.name))
        kids |= frontier
    return kids


@pytest.mark.slow
def test_process_workers_die_with_the_driver(tmp_path):
    """kill -9 of the driver leaves no worker (about 260 MB each) and no resource tracker behind."""
    suite = write_suite(tmp_path, SLEEPY)
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", suite, "--out", str(tmp_path / "out"),
                             "--executor", "process", "--jobs", "2", "--no-progress"], env=subprocess_env(
                                 SLEEPY_SECONDS="2"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and _cells_in(tmp_path / "out") < 1:
        time.sleep(0.2)
    workers = _children(proc.pid)
    assert len(workers) >= 2, "the pool should be running"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while time.time() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    left = [w for w in workers if Path(f"/proc/{w}").exists() and "Z" not in
            Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0]]
    assert not left, f"workers still alive 5 s after the driver was killed: {left}"
