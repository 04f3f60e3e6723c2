"""`mathnas-bench` command line. Every bad input ends as one line on stderr and exit code 2."""
from __future__ import annotations

import argparse
import importlib
import json
import sys


from harness.errors import HarnessError

# Packages that add their own sub-commands: (module, function taking the sub-parsers object).
PLUGINS = (
    ("solvers.commands", "register"),
    ("mathnas.commands", "register"),
    ("harness.runner_cli", "register"),
)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2), like every other bad input."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def print_json(obj) -> None:
    from harness.store import plain

    print(json.dumps(plain(obj), indent=2))


def common_parser() -> argparse.ArgumentParser:
    """Options every command takes (so they may follow the sub-command name)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--data", metavar="DIR", default=None,
                   help="ground-truth data folder (default: $MATHNAS_BENCH_DATA, else ../shared/nb201)")
    p.add_argument("--device-file", metavar="CSV", default=None,
                   help="add a user profile from a CSV (arch_index or arch, latency_ms[, energy_mj]); "
                        "its name is the file's stem")
    return p


def limit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-latency", type=float, metavar="MS", help="latency limit in ms (device profile)")
    p.add_argument("--max-energy", type=float, metavar="MJ", help="energy limit in mJ (device profile)")
    p.add_argument("--max-flops", type=float, metavar="MACS", help="FLOPs limit (multiply-accumulates)")
    p.add_argument("--max-params", type=float, metavar="N", help="parameter-count limit")


def limits_from(args) -> dict[str, float]:
    return {k: v for k, v in (("latency", args.max_latency), ("energy", args.max_energy),
                               ("flops", args.max_flops), ("params", args.max_params)) if v is not None}


def _apply_common(args) -> None:
    if getattr(args, "device_file", None):
        from devices.profiles import register
        from devices.user_file import profile_from_file

        register(profile_from_file(args.device_file))


# --- data ------------------------------------------------------------------------------------------
def cmd_data_check(args) -> int:
    from devices.profiles import profiles
    from harness.data import PUBLISHED_MAXIMA, load_tables

    tables = load_tables(args.data)
    report = {"folder": str(tables.folder), "architectures": tables.space.size,
              "datasets": {d: {"rows": int(a.size), "max": float(a.max()), "min": float(a.min())}
                           for d, a in tables.accuracy.items()},
              "latency_devices": sorted(tables.latency), "energy_devices": sorted(tables.energy),
              "hw360_profiles": sorted({f"{d}-{fw}" for d, fw, _ in tables.hw360}),
              "profiles": len(profiles()), "published_maxima": {}}
    ok = True
    for d, published in PUBLISHED_MAXIMA.items():
        found = round(float(tables.accuracy[d].max()), 3)
        match = abs(found - published) < 5e-4
        ok &= match
        report["published_maxima"][d] = {"published": published, "found": found, "match": match}
    if args.json:
        print_json(report)
    else:
        print(f"data folder {report['folder']}: {report['architectures']:,} architectures, all arch strings valid")
        for d, r in report["datasets"].items():
            print(f"  accuracy {d:15s} rows {r['rows']:,}  min {r['min']:.3f}  max {r['max']:.3f}")
        for d, r in report["published_maxima"].items():
            print(f"  published maximum {d:15s} {r['published']:.3f}  found {r['found']:.3f}  "
                  f"{'ok' if r['match'] else 'MISMATCH'}")
        print(f"  latency devices ({len(report['latency_devices'])}): {', '.join(report['latency_devices'])}")
        print(f"  hw360 profiles ({len(report['hw360_profiles'])}): {', '.join(report['hw360_profiles']) or 'none'}")
        if report["energy_devices"]:
            print(f"  energy devices: {', '.join(report['energy_devices'])}")
    if not ok:
        raise HarnessError(f"{tables.folder}: accuracy maxima differ from the published ones")
    return 0


# --- optimum / pareto --------------------------------------------------------------------------------
def cmd_optimum(args) -> int:
    from harness.groundtruth import ground_truth, optimum

    gt = ground_truth(args.dataset, args.device, args.data)
    best = optimum(gt, limits_from(args))
    if args.json:
        print_json({"dataset": args.dataset, "device": args.device, "limits": limits_from(args), **best.as_dict()})
    else:
        print(f"optimum on {args.dataset}/{args.device} ({best.feasible_count:,} feasible): {best.arch}")
        print(f"  index {best.row}  accuracy {best.accuracy:.3f}%  latency {best.latency}  energy {best.energy}  "
              f"MACs {best.flops:,.0f}  params {best.params:,.0f}")
    return 0


def cmd_pareto(args) -> int:
    import pandas as pd

    from harness.groundtruth import ground_truth, pareto_front
    from harness.store import atomic_write_bytes

    gt = ground_truth(args.dataset, args.device, args.data)
    costs = tuple(c.strip() for c in args.costs.split(",") if c.strip())
    rows = pareto_front(gt, costs)
    frame = pd.DataFrame({"arch_index": rows, "arch": [gt.space.decode(gt.codes[r]) for r in rows],
                          "accuracy": gt.accuracy[rows], **{c: gt.metric(c)[rows] for c in costs}})
    atomic_write_bytes(args.out, frame.to_csv(index=False).encode())
    print(f"wrote {len(frame)} Pareto-optimal architectures ({args.dataset}/{args.device}, accuracy vs "
          f"{' and '.join(costs)}) to {args.out}")
    return 0


def cmd_arch(args) -> int:
    from harness.evaluate import score_code
    from harness.groundtruth import ground_truth

    gt = ground_truth(args.dataset, args.device, args.data)
    code = gt.space.encode(args.arch)
    scored = score_code(gt, code, {})
    scored.pop("feasible")
    out = {"dataset": args.dataset, "device": args.device, "code": code, **scored,
           "true_params": float(gt.params[scored["arch_index"]])}
    if args.json:
        print_json(out)
    else:
        for key, value in out.items():
            print(f"{key:15s} {value}")
    return 0


# --- devices --------------------------------------------------------------------------------------
def cmd_devices(args) -> int:
    from devices.profiles import profiles

    rows = [{"name": p.name, "kind": p.kind, "metrics": list(p.metrics), "units": p.units,
             "resolution_ms": p.resolution_ms, "datasets": list(p.datasets) if p.datasets else "all",
             "source": p.source} for p in profiles()]
    if args.json:
        print_json(rows)
        return 0
    print(f"{'name':18s} {'kind':9s} {'metrics':22s} source")
    for r in rows:
        metrics = ", ".join(f"{m} ({r['units'][m]})" for m in r["metrics"])
        print(f"{r['name']:18s} {r['kind']:9s} {metrics:22s} {r['source']}")
    return 0


# --- predict / search -------------------------------------------------------------------------------
def _method_params(args) -> dict:
    params = {}
    for key in ("variant", "train_size", "solver"):
        if getattr(args, key, None) is not None:
            params[key] = getattr(args, key)
    for item in args.param or []:
        if "=" not in item:
            raise HarnessError(f"--param {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        try:
            params[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            params[key.replace("-", "_")] = value
    return params


def method_options(p: argparse.ArgumentParser) -> None:
    from harness.methods import METHODS

    p.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS)}")
    p.add_argument("--dataset", required=True, help="cifar10, cifar100, imagenet16_120, darcy or ninapro")
    p.add_argument("--device", default="fpga", help="device profile (see `mathnas-bench devices`; default fpga)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--budget", type=int, default=None, help="max distinct architectures evaluated (accuracy)")
    p.add_argument("--variant", default=None, help="method variant (MathNAS: single, full, sampled, ...)")
    p.add_argument("--train-size", type=int, default=None, help="training architectures (predictors)")
    p.add_argument("--solver", default=None, help="ILP backend for MathNAS/LANA (see `mathnas-bench solvers`)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="extra method parameter (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON")


def cmd_predict(args) -> int:
    from harness.evaluate import predict_report

    out = predict_report(args.method, args.dataset, args.device, seed=args.seed, budget=args.budget,
                         data=args.data, **_method_params(args))
    if args.json:
        print_json(out)
    else:
        print(f"{args.method} on {args.dataset}/{args.device}: {out['queries']} evaluations, fit {out['fit_seconds']:.2f}s")
        for metric in ("accuracy", "latency", "energy"):
            s = out[metric]
            if s:
                print(f"  {metric:9s} tau {s['kendall_tau']:.4f}  rho {s['spearman']:.4f}  MSE {s['mse']:.4g}  MAE {s['mae']:.4g}")
    return 0


def cmd_search(args) -> int:
    from harness.evaluate import search_report
    from harness.problem import Problem

    problem = Problem(args.dataset, args.device, limits_from(args))
    out = search_report(args.method, problem, seed=args.seed, budget=args.budget, data=args.data,
                        **_method_params(args))
    if args.json:
        print_json(out)
    else:
        if out["arch"] is None:
            status = f"nothing found: {out.get('status', 'no result')} {out.get('reason', '')}".rstrip()
        else:
            status = "feasible" if out["feasible"] else "INFEASIBLE under the true limits"
        print(f"{args.method} on {problem.describe()}: {out['arch'] or '-'} ({status})")
        acc = "n/a" if out["true_accuracy"] is None else f"{out['true_accuracy']:.3f}"
        reg = "n/a" if out["regret"] is None else f"{out['regret']:.3f}"
        print(f"  true accuracy {acc}  optimum {out['optimum_accuracy']:.3f}  regret {reg}  "
              f"queries {out['queries']}  search {out['search_seconds']:.3f}s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = common_parser()
    parser = Parser(prog="mathnas-bench", description="Judge MathNAS against baselines on exact NAS-Bench-201 ground truth.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    data = sub.add_parser("data", help="check or import ground-truth data", parents=[common])
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    check = data_sub.add_parser("check", parents=[common], help="validate the data folder and print what it holds")
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_data_check)
    _plugin("harness.importers", "register", data_sub)

    p = sub.add_parser("optimum", parents=[common], help="exact constrained optimum by enumeration")
    p.add_argument("--dataset", required=True)
    p.add_argument("--device", required=True)
    limit_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_optimum)

    p = sub.add_parser("arch", parents=[common], help="true metrics of one architecture (official arch string)")
    p.add_argument("arch", help="e.g. '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|'")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--device", default="fpga")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_arch)

    p = sub.add_parser("pareto", parents=[common], help="exact Pareto front (accuracy vs one or two costs) to CSV")
    p.add_argument("--dataset", required=True)
    p.add_argument("--device", required=True)
    p.add_argument("--costs", default="latency", help="comma-separated: latency, energy, flops, params (default latency)")
    p.add_argument("--out", required=True, metavar="FILE.csv")
    p.set_defaults(func=cmd_pareto)

    p = sub.add_parser("devices", parents=[common], help="list device profiles (and measure/additivity)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_devices)
    dev_sub = p.add_subparsers(dest="devices_command", parser_class=Parser)
    _plugin("devices.commands", "register", dev_sub, common=common)

    p = sub.add_parser("predict", parents=[common], help="fit a predictor and score it on all 15,625 architectures")
    method_options(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("search", parents=[common], help="search under limits; re-scored with ground truth")
    method_options(p)
    limit_options(p)
    p.set_defaults(func=cmd_search)

    for module, func in PLUGINS:
        _plugin(module, func, sub, common=common)
    return parser


def _plugin(module: str, func: str, subparsers, **kwargs) -> None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            return  # that package has no commands in this build
        raise
    register = getattr(mod, func)
    try:
        register(subparsers, **kwargs)
    except TypeError:
        register(subparsers)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _apply_common(args)
        return int(args.func(args) or 0)
    except HarnessError as e:
        print(f"mathnas-bench: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("mathnas-bench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
