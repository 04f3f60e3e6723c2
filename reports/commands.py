"""`mathnas-bench report` and `mathnas-bench regress` (registered as commands by entry points)."""
from __future__ import annotations

from reports.build import build_report
from reports.regress import regress


def cmd_report(args) -> int:
    rep = build_report(args.results, args.out, figures=not args.no_figures, progress=not args.no_progress)
    print(f"report written to {rep.html} (Markdown {rep.markdown}, {len(rep.files)} files in {rep.out})")
    if rep.headline:
        print()
        print(rep.headline)
    return 0


def cmd_regress(args) -> int:
    outcome = regress(args.results, args.baseline, update=args.update)
    for line in outcome.lines:
        print(line)
    return 0 if outcome.ok else 1


def register(subparsers, common=None) -> None:
    parents = [common] if common is not None else []
    p = subparsers.add_parser("report", parents=parents, help="leaderboards, figures, claims from a result store")
    p.add_argument("results", metavar="RESULTS_DIR", help="a result store written by `mathnas-bench run`")
    p.add_argument("--out", required=True, metavar="DIR", help="report folder (created)")
    p.add_argument("--no-figures", action="store_true", help="tables only (faster)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser("regress", parents=parents, help="compare a result store with a baseline; exit 1 on regressions")
    p.add_argument("results", metavar="RESULTS_DIR", help="a result store written by `mathnas-bench run`")
    p.add_argument("--baseline", required=True, metavar="FILE.json",
                   help="baseline metrics with tolerances (benchmarks/baseline.json for the bench suite)")
    p.add_argument("--update", action="store_true", help="rewrite the baseline from this run (on purpose)")
    p.set_defaults(func=cmd_regress)
