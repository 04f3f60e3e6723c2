"""`mathnas-bench run` and `mathnas-bench suite schema|check`."""
from __future__ import annotations

import json
import sys

from core.errors import HarnessError
from core.text import print_json
from harness.executors import EXECUTORS
from harness.run import plan, run
from harness.suite import load_suite, schema


def cmd_run(args) -> int:
    if args.dry_run:
        p = plan(args.suite, args.out, data=args.sources)
        tasks = ", ".join(f"{n} {t}" for t, n in p["per_task"].items())
        print(f"{p['suite']}: {p['cells']} cells ({tasks}), {p['done']} already done in {args.out}")
        for note in p["notes"]:
            print(f"  note: {note}")
        return 0
    executor = "docker" if args.sandbox else args.executor
    if args.sandbox and args.executor not in ("process", "docker"):
        raise HarnessError(f"--sandbox runs cells in containers: it cannot be combined with --executor {args.executor}")
    s = run(args.suite, args.out, executor=executor, jobs=args.jobs, address=args.address, data=args.sources,
            progress=not args.no_progress, memory=args.memory, timeout=args.timeout)
    for note in s.notes:
        print(f"note: {note}", file=sys.stderr)
    for cell, error in s.failures[:10]:
        print(f"failed: {cell}: {error}", file=sys.stderr)
    if len(s.failures) > 10:
        print(f"failed: ... and {len(s.failures) - 10} more (status='failed' rows in the store)", file=sys.stderr)
    print(f"{s.suite}: {s.ran} cells ran, {s.skipped} skipped as done, {s.failed} failed "
          f"({s.total} in the suite, {s.seconds:.1f}s); results in {s.out}")
    return 1 if s.failed else 0


def cmd_suite_schema(args) -> int:
    print(json.dumps(schema(), indent=2))
    return 0


def cmd_suite_check(args) -> int:
    suite = load_suite(args.suite, args.sources)
    p = plan(suite, None, data=args.sources)
    out = {"suite": suite.name, "file": args.suite, "valid": True, "cells": p["cells"], "per_task": p["per_task"],
           "notes": p["notes"]}
    if args.json:
        print_json(out)
    else:
        tasks = ", ".join(f"{n} {t}" for t, n in p["per_task"].items())
        print(f"{args.suite}: valid; suite {suite.name!r} expands to {p['cells']} cells ({tasks})")
        for note in p["notes"]:
            print(f"  note: {note}")
    return 0


def register(subparsers, common=None) -> None:
    parents = [common] if common is not None else []
    p = subparsers.add_parser("run", parents=parents, help="run a suite (TOML) into a result store; resumes")
    p.add_argument("suite", metavar="SUITE.toml")
    p.add_argument("--out", required=True, metavar="DIR", help="result store folder (created; re-runs skip done cells)")
    p.add_argument("--executor", choices=EXECUTORS, default="process",
                   help="serial, process (default: a process pool), ray, or docker (isolated containers)")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="parallel cells (default: all cores)")
    p.add_argument("--address", default=None, metavar="ADDR", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--memory", default=None, metavar="SIZE",
                   help="docker executor: memory limit per worker container, e.g. 2g (default 2g)")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="docker executor: seconds a cell may run before its container is killed (default 3600)")
    switches = {"--sandbox": "run every cell in an isolated container (same as --executor docker): plug-in files "
                             "(--param plugin=file.py) never run in this process",
                "--dry-run": "validate and count the cells; run nothing",
                "--no-progress": "no progress bar on stderr"}
    for flag, what in switches.items():
        p.add_argument(flag, action="store_true", help=what)
    p.set_defaults(func=cmd_run)

    p = subparsers.add_parser("suite", parents=parents, help="suite files: print the JSON Schema or check a file")
    sub = p.add_subparsers(dest="suite_command", required=True, parser_class=type(p), metavar="COMMAND")
    s = sub.add_parser("schema", parents=parents, help="print the JSON Schema of suite files (for editors)")
    s.set_defaults(func=cmd_suite_schema)
    s = sub.add_parser("check", parents=parents, help="validate a suite file completely without running it")
    s.add_argument("suite", metavar="SUITE.toml")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_suite_check)
