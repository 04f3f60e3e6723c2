"""The worker inside a container started by harness.containers: `python -m harness.container_worker JOB.json`.

The job file (or stdin with "-") is JSON: {"runner": "module:function", "ctx": {...}, "cells": [{"spec": {...},
"key": "..."}, ...]}. For each cell the worker calls fn(spec, key, ctx) -> row (harness.cells:execute has
that signature) and prints, on stdout, one JSON line before the cell
({"protocol": ..., "event": "start", "index": i}) and one after it ({... "event": "row", "index": i, "row": row}),
flushed at once, so the host knows which cell was running if the container is killed. Anything else the
runner prints goes to stderr. A runner that raises (or cannot be imported) gives a failed row; the worker
itself writes no file. Only the standard library is imported here, before the runner.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time

PROTOCOL = "mathnas-bench/1"  # harness.containers.PROTOCOL


def _one_line(text, limit: int = 2000) -> str:
    return " ".join(str(text).split())[:limit]


def _canonical(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


def _failed(cell: dict, error: str, seconds: float = 0.0) -> dict:
    spec = cell.get("spec") or {}
    return {"key": cell.get("key"), "cell": _canonical(spec), **spec, "status": "failed",
            "error": _one_line(error), "seconds": seconds}


def _jsonable(value):
    """json.dumps fallback for what rows hold besides JSON types: numpy scalars and arrays, paths, sets."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def resolve(path: str):
    """'package.module:function' (or 'package.module.function') -> the function."""
    module, sep, name = path.partition(":")
    if not sep:
        module, _, name = path.rpartition(".")
    if not module or not name:
        raise ValueError(f"runner {path!r} is not 'module:function'")
    fn = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    if not callable(fn):
        raise TypeError(f"runner {path!r} is not callable")
    return fn


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    source = argv[0] if argv else "-"
    # The protocol channel is a private copy of stdout; whatever else is printed goes to stderr.
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def emit(event: dict, cell: dict | None = None) -> None:
        try:
            line = json.dumps({"protocol": PROTOCOL, **event}, default=_jsonable)
        except (TypeError, ValueError) as e:  # a row that does not serialise is a failed row, not a crash
            row = _failed(cell or {}, f"row is not JSON: {type(e).__name__}: {e}", event["row"].get("seconds", 0.0))
            line = json.dumps({"protocol": PROTOCOL, **event, "row": row}, default=str)
        out.write(line + "\n")
        out.flush()

    if source == "-":
        job = json.load(sys.stdin)
    else:
        with open(source, encoding="utf-8") as f:
            job = json.load(f)
    ctx = job.get("ctx") or {}
    cells = job.get("cells") or []
    try:
        fn, broken = resolve(job["runner"]), None
    except Exception as e:  # noqa: BLE001 - reported in every cell's row
        fn, broken = None, f"runner {job.get('runner')!r} cannot be loaded: {type(e).__name__}: {e}"
    for i, cell in enumerate(cells):
        emit({"event": "start", "index": i})
        t0 = time.perf_counter()
        if fn is None:
            row = _failed(cell, broken)
        else:
            try:
                row = fn(cell.get("spec") or {}, cell.get("key"), ctx)
                if not isinstance(row, dict):
                    row = _failed(cell, f"runner returned {type(row).__name__}, not a dict",
                                  time.perf_counter() - t0)
            except (Exception, SystemExit) as e:  # noqa: BLE001 - any failure lands in its cell's row
                row = _failed(cell, f"{type(e).__name__}: {e}", time.perf_counter() - t0)
        emit({"event": "row", "index": i, "row": row}, cell)
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
