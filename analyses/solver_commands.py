"""CLI: `mathnas-bench solvers --instances {nb201,nb201-shape,scale,small,fbnet} [--backends a,b] [--time-limit S]
[--ratio M] [--json] [--out DIR] [--seed N]`."""
from __future__ import annotations

import argparse
import sys

from analyses.solver_bench import format_table, jsonable, parse_list, run_benchmark, summarise, write_outputs
from core.errors import HarnessError
from core.registry import FAMILIES
from core.text import print_json
from solvers import backend_names


def register(subparsers, common=None) -> argparse.ArgumentParser:
    """Add the `solvers` sub-command to an argparse sub-parsers object."""
    p = subparsers.add_parser(
        "solvers", parents=[common] if common is not None else [],
        help="compare ILP backends (speed, status, agreement with enumeration)",
        description="Solve instance families with every ILP backend; report median/max time, status counts "
                    "and agreement with the best known answer (enumeration where possible).")
    p.add_argument("--instances", default="small", metavar="FAMILY[,FAMILY]",
                   help="instance families: nb201, nb201-shape, scale, small, fbnet (default small)")
    p.add_argument("--backends", default=None, metavar="A,B",
                   help="backends to run (default: all registered; unavailable ones are reported as such)")
    p.add_argument("--time-limit", type=float, default=10.0, metavar="S", help="seconds per solve (default 10)")
    p.add_argument("--ratio", default=None, choices=("charnes-cooper", "dinkelbach"),
                   help="force the ratio-objective method (default: each backend's measured fastest)")
    p.add_argument("--seed", type=int, default=0, help="instance generator seed (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object per (backend, family)")
    p.add_argument("--out", metavar="DIR", default=None, help="write solver_runs.csv and solver_scaling.png/.svg here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_solvers)
    return p


def cmd_solvers(args) -> int:
    families = parse_list(args.instances, FAMILIES.names(), "instance family")
    if not families:
        raise HarnessError("--instances: name at least one family; valid: " + ", ".join(FAMILIES.names()))
    backends = parse_list(args.backends, backend_names(), "solver") if args.backends else backend_names()
    if not backends:
        raise HarnessError("--backends: name at least one backend; valid: " + ", ".join(backend_names()))
    if not args.time_limit > 0:
        raise HarnessError(f"--time-limit must be > 0 seconds, got {args.time_limit}")
    records = run_benchmark(families, backends, time_limit=args.time_limit, seed=args.seed,
                            progress=not args.quiet, ratio=args.ratio, data=args.sources)
    summary = summarise(records)
    if args.out:
        paths = write_outputs(records, args.out)
        print("wrote " + ", ".join(map(str, paths)), file=sys.stderr)
    if args.json:
        print_json(jsonable(summary))
    else:
        print(format_table(summary))
    return 0
