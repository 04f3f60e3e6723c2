"""`mathnas-bench claims`: the paper's checkable claims beside our measurements."""
from __future__ import annotations


def cmd_claims(args) -> int:
    from harness.cli import print_json
    from mathnas.claims import claims_table, to_markdown

    rows = claims_table(args.data, seed=args.seed)
    if args.format == "json":
        print_json(rows)
    else:
        print(to_markdown(rows))
    return 0


def register(subparsers, common=None) -> None:
    p = subparsers.add_parser("claims", parents=[common] if common is not None else [],
                              help="MathNAS paper claims beside what the harness measures (with verdict and delta)")
    p.add_argument("--format", choices=("md", "json"), default="md", help="Markdown table (default) or JSON")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.set_defaults(func=cmd_claims)
