"""`mathnas-bench run | report | regress`: run a suite into a result store, report on it, gate on a baseline."""
from __future__ import annotations

import sys


def cmd_run(args) -> int:
    from harness.runner import plan, run

    if args.dry_run:
        p = plan(args.suite, args.out, data=args.data)
        tasks = ", ".join(f"{n} {t}" for t, n in p["per_task"].items())
        print(f"{p['suite']}: {p['cells']} cells ({tasks}), {p['done']} already done in {args.out}")
        for note in p["notes"]:
            print(f"  note: {note}")
        return 0
    s = run(args.suite, args.out, executor=args.executor, jobs=args.jobs, address=args.address, data=args.data,
            device_files=[args.device_file] if args.device_file else [], progress=not args.no_progress)
    for note in s.notes:
        print(f"note: {note}", file=sys.stderr)
    for cell, error in s.failures[:10]:
        print(f"failed: {cell}: {error}", file=sys.stderr)
    if len(s.failures) > 10:
        print(f"failed: ... and {len(s.failures) - 10} more (status='failed' rows in the store)", file=sys.stderr)
    print(f"{s.suite}: {s.ran} cells ran, {s.skipped} skipped as done, {s.failed} failed "
          f"({s.total} in the suite, {s.seconds:.1f}s); results in {s.out}")
    return 1 if s.failed else 0


def cmd_report(args) -> int:
    from reports.build import build_report

    rep = build_report(args.results, args.out, figures=not args.no_figures)
    print(f"report written to {rep.html} (Markdown {rep.markdown}, {len(rep.files)} files in {rep.out})")
    if rep.headline:
        print()
        print(rep.headline)
    return 0


def cmd_regress(args) -> int:
    from reports.regress import regress

    outcome = regress(args.results, args.baseline, update=args.update)
    for line in outcome.lines:
        print(line)
    return 0 if outcome.ok else 1


def register(subparsers, common=None) -> None:
    from harness.runner import EXECUTORS

    parents = [common] if common is not None else []
    p = subparsers.add_parser("run", parents=parents, help="run a suite (TOML) into a result store; resumes")
    p.add_argument("suite", metavar="SUITE.toml")
    p.add_argument("--out", required=True, metavar="DIR", help="result store folder (created; re-runs skip done cells)")
    p.add_argument("--executor", choices=EXECUTORS, default="process",
                   help="serial, process (default: a process pool) or ray")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="parallel cells (default: all cores)")
    p.add_argument("--address", default=None, metavar="ADDR", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--dry-run", action="store_true", help="validate and count the cells; run nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_run)

    p = subparsers.add_parser("report", parents=parents, help="leaderboards, figures, claims from a result store")
    p.add_argument("results", metavar="RESULTS_DIR")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--no-figures", action="store_true", help="tables only (faster)")
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser("regress", parents=parents, help="compare a result store with a baseline; exit 1 on regressions")
    p.add_argument("results", metavar="RESULTS_DIR")
    p.add_argument("--baseline", required=True, metavar="FILE.json")
    p.add_argument("--update", action="store_true", help="rewrite the baseline from this run (on purpose)")
    p.set_defaults(func=cmd_regress)

