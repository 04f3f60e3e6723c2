"""Fuzz the command line and the suite schema (hypothesis): random argument lists and random suite documents,
within size limits. Whatever comes in, the outcome is an exit code (0, 1 or 2) with at most one line of error
on stderr: never a traceback, never a hang (every call runs under an alarm)."""
from __future__ import annotations

import contextlib
import io
import signal
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main

pytestmark = pytest.mark.slow
TIMEOUT = 120   # seconds one call may take before it counts as a hang

COMMANDS = [["optimum"], ["arch"], ["pareto"], ["devices"], ["spaces"], ["predict"], ["search"], ["data", "check"],
            ["suite", "check"], ["run"], ["solvers"], ["devices", "additivity"]]
OPTIONS = ["--dataset", "--device", "--space", "--method", "--variant", "--budget", "--seed", "--max-latency",
           "--max-energy", "--max-flops", "--max-params", "--hardware", "--hw-budget", "--hw-cost", "--param",
           "--costs", "--out", "--json", "--solver", "--instances", "--backends", "--time-limit", "--data",
           "--data-root", "--device-file", "--dry-run", "--executor", "--jobs", "--train-size"]
VALUES = ["cifar10", "cifar100", "mnist", "fpga", "pi5-onnx", "toaster", "nb201", "synthetic", "chain4", "nosuch",
          "mathnas", "lana", "random", "evolution", "hill", "brpnas", "single", "full", "sampled", "multi", "0", "1",
          "3", "-1", "26", "1e309", "nan", "-0", "2.5", "free", "blind", "charged", "latency", "energy,latency",
          "latency,latency", "fraction=0.5", "fraction=7", "seed=3", "base=smallest", "small", "enumerate,highs",
          "", "/dev/null", "/proc", ".", "x" * 300, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "serial",
          "ray", "{}", "[]", "😀"]


def _call(argv) -> tuple[int, str]:
    err = io.StringIO()

    def hang(signum, frame):
        raise TimeoutError(f"hang: {argv}")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(TIMEOUT)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as e:   # argparse: --help (0) and usage errors (2)
                code = e.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, err.getvalue()


def _check(argv, code, err):
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]   # progress bars aside
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 1, 2), (argv, code, err)
    if code == 2:
        assert len(lines) == 1, (argv, err)


def _out_safe(argv, tmp):
    """Keep writes inside the test's folder (except the special files whose refusal is under test)."""
    return [str(tmp / "o") if a == "." else a for a in argv]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cmd=st.sampled_from(COMMANDS), rest=st.lists(st.one_of(st.sampled_from(OPTIONS), st.sampled_from(VALUES)),
                                                     max_size=10))
def test_random_argument_lists(tmp_path, cmd, rest):
    argv = _out_safe(cmd + rest, tmp_path)
    if cmd == ["run"] and "--dry-run" not in argv:
        argv.append("--dry-run")           # a fuzzed suite is validated, not executed for minutes
    code, err = _call(argv)
    _check(argv, code, err)


KEYS = ["name", "description", "space", "spaces", "datasets", "devices", "seeds", "tasks", "sample_size", "hardware",
        "limits", "methods", "solvers", "measure", "exclude", "colour"]
LEAF = st.one_of(st.integers(-5, 10**9), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                 st.sampled_from(VALUES), st.text(max_size=20))
TABLE_KEYS = ["name", "variant", "budget", "latency", "latency_quantiles", "energy_quantiles", "regimes", "backends",
              "families", "time_limit", "sample", "device", "method", "fraction", "label", "tasks", "seeds"]


def _tomlable(value):
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else "-inf" if value < 0 else "nan"
    return value


documents = st.dictionaries(
    st.sampled_from(KEYS),
    st.one_of(LEAF, st.lists(LEAF, max_size=4),
              st.dictionaries(st.sampled_from(TABLE_KEYS), st.one_of(LEAF, st.lists(LEAF, max_size=3)), max_size=4),
              st.lists(st.dictionaries(st.sampled_from(TABLE_KEYS), st.one_of(LEAF, st.lists(LEAF, max_size=3)),
                                       max_size=4), max_size=3)),
    max_size=8)


def _dump(doc: dict) -> str:
    """A small TOML writer (tomllib only reads): tables last, as TOML requires."""
    import json

    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return str(_tomlable(v)) if v != v or v in (float("inf"), float("-inf")) else repr(v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + "}"
        raise TypeError(v)

    return "\n".join(f"{k} = {val(v)}" for k, v in doc.items()) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_random_suite_documents(tmp_path, doc):
    text = _dump(doc)
    tomllib.loads(text)   # the generator writes valid TOML; the suite schema is what is under test
    path = tmp_path / "fuzz.toml"
    path.write_text(text)
    for argv in (["suite", "check", str(path)], ["run", str(path), "--out", str(tmp_path / "o"), "--dry-run"]):
        code, err = _call(argv)
        _check(argv, code, err)
