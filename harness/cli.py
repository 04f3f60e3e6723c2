"""`mathnas-bench` command line. Every bad input ends as one line on stderr and exit code 2.

The core commands (data check, spaces, devices, optimum, pareto, arch, predict, search) live in
harness.commands; every other command comes from the entry-point group mathnas_bench.commands, whose
names are `<group>.<name>` with group `top`, `data` or `devices` and whose value is a function
`register(subparsers, common)` adding its parser(s). That is how the runner, the analyses, the reports
and the data importers plug in, exactly as another distribution's commands would.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import HarnessError, one_line
from core.registry import COMMANDS
from core.sources import Sources
from devices import get_profile
from harness import commands

GROUPS = ("top", "data", "devices")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2), like every other bad input."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {one_line(message, 500)}\n")


def common_parser() -> argparse.ArgumentParser:
    """Options every command takes (so they may follow the sub-command name)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--data", metavar="DIR", default=None,
                   help="NAS-Bench-201 data folder (default: $MATHNAS_BENCH_DATA, else <data root>/nb201)")
    p.add_argument("--data-root", metavar="DIR", default=None,
                   help="folder holding one folder per benchmark (default: $MATHNAS_BENCH_DATA_ROOT, else ../shared)")
    p.add_argument("--device-file", metavar="CSV", action="append", default=None,
                   help="add a user profile from a CSV (arch_index or arch, latency_ms[, energy_mj]); its name is "
                        "the file's stem (repeatable)")
    return p


def _register_plugins(subparsers: dict, common) -> None:
    for name in COMMANDS.names():
        group, _, _ = name.partition(".")
        if group not in GROUPS:
            raise HarnessError(f"command entry point {name!r}: the name must start with one of "
                               f"{', '.join(g + '.' for g in GROUPS)}")
        COMMANDS.get(name)(subparsers[group], common)


def build_parser() -> argparse.ArgumentParser:
    common = common_parser()
    parser = Parser(prog="mathnas-bench",
                    description="Judge MathNAS against baselines on exact ground truth (NAS-Bench-201 and more).")
    top = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    groups = {"top": top}
    groups["data"], groups["devices"] = commands.register(top, common)
    _register_plugins(groups, common)
    return parser


def main(argv=None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        files = tuple(args.device_file or ())
        if any(f == "" for f in files):
            raise HarnessError("--device-file: empty path")
        args.sources = Sources(data=args.data, root=args.data_root, device_files=files)
        for f in files:   # validate every user file now, before any work
            get_profile(Path(f).stem, args.sources)
        return int(args.func(args) or 0)
    except HarnessError as e:
        print(f"mathnas-bench: error: {one_line(e)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("mathnas-bench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
