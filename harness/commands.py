"""The core commands: data check, spaces, devices, optimum, pareto, arch, predict, search."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from core.codes import space_skip_structure
from core.errors import HarnessError
from core.files import atomic_write_bytes
from core.oracle import REGIMES
from core.protocols import Problem, method_class
from core.registry import METHODS, SPACES
from core.text import fmt_value, plain_table, print_json, with_unit
from devices import NO_DEVICE, get_profile, profiles
from evaluation.evaluate import predict_report, score_code, search_report
from evaluation.groundtruth import ground_truth, metric_info, optimum, pareto_front, raw_metric, task_of
from spaces import load_space
from spaces.nb201_data import PUBLISHED_MAXIMA, load_tables

DATASET_HELP = "dataset/task of the space (see `mathnas-bench spaces`; NB201: cifar10, cifar100, imagenet16_120, " \
               "darcy, ninapro)"
DEVICE_HELP = "device profile (see `mathnas-bench devices`; `none`: no hardware, accuracy/FLOPs/params only)"
DEFAULT_DEVICE_HELP = "; default fpga on nb201, none on other spaces"


# --- options -------------------------------------------------------------------------------------------
def space_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="nb201", help="search space (see `mathnas-bench spaces`; default nb201)")


def where_options(p: argparse.ArgumentParser, dataset: str | None = None) -> None:
    """--space, --dataset (required unless given a default) and --device (default by space)."""
    space_option(p)
    p.add_argument("--dataset", required=dataset is None, default=dataset,
                   help=DATASET_HELP + (f"; default {dataset}" if dataset else ""))
    p.add_argument("--device", default=None, help=DEVICE_HELP + DEFAULT_DEVICE_HELP)


def json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def limit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-latency", type=float, metavar="MS", help="latency limit (the device's unit, ms for timed "
                                                                    "devices)")
    p.add_argument("--max-energy", type=float, metavar="MJ", help="energy limit in mJ (device profile)")
    p.add_argument("--max-flops", type=float, metavar="MACS", help="FLOPs limit (multiply-accumulates)")
    p.add_argument("--max-params", type=float, metavar="M", help="parameter limit in millions, as NAS-Bench-201 "
                                                                   "publishes params (1.0 = 1,000,000 parameters)")


def device_of(args) -> str:
    """--device, else fpga on nb201 (as always) and `none` (no hardware) on the other spaces."""
    if args.device is not None:
        return args.device
    return "fpga" if args.space == "nb201" else NO_DEVICE


def _metric_text(gt, oriented, digits: int = 6) -> str:
    """`accuracy 94.37 %`, or for a task whose metric is not an accuracy to maximise its own name and value
    (`valid L2 loss 0.6012 (lower is better)`)."""
    t = task_of(gt)
    if t.direction == "higher":
        return f"accuracy {with_unit(oriented, gt.unit('accuracy'), digits)}"
    return f"{t.metric} {with_unit(raw_metric(gt, oriented), t.unit, digits)} (lower is better)"


def limits_from(args) -> dict[str, float]:
    """Limits in the tables' units: `--max-params` is given in millions, the tables count parameters."""
    params = None if args.max_params is None else args.max_params * 1e6
    return {k: v for k, v in (("latency", args.max_latency), ("energy", args.max_energy),
                               ("flops", args.max_flops), ("params", params)) if v is not None}


def _units(gt) -> dict[str, str]:
    return {m: gt.unit(m) for m in ("accuracy", "latency", "energy", "flops", "params")}


# --- data ----------------------------------------------------------------------------------------------
def cmd_data_check(args) -> int:
    tables = load_tables(args.sources)
    report = {"folder": str(tables.folder), "architectures": tables.space.size,
              "datasets": {d: {"rows": int(a.size), "max": float(a.max()), "min": float(a.min())}
                           for d, a in tables.accuracy.items()},
              "latency_devices": sorted(tables.latency), "energy_devices": sorted(tables.energy),
              "hw360_profiles": sorted({f"{d}-{fw}" for d, fw, _ in tables.hw360}),
              "profiles": len(profiles(args.sources)), "published_maxima": {}}
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
    return _check_other_spaces(args)


def _check_other_spaces(args) -> int:
    """Load (and so validate) every other registered space: rows and folder, `absent` for a folder that is
    not there (a data root may hold only some benchmarks), one line and exit 2 for one that is there but bad."""
    bad = []
    lines = []
    for row in space_rows(args.sources):
        if row["name"] == "nb201":
            continue
        err = row.get("error")
        if err is None:
            lines.append(f"  space {row['name']:24s} {row['size']:,} rows  ok")
        elif "does not exist" in err:
            lines.append(f"  space {row['name']:24s} absent ({err})")
        else:
            bad.append(err)
            lines.append(f"  space {row['name']:24s} BAD: {err}")
    if not args.json:
        print("\n".join(lines))
    if bad:
        raise HarnessError(bad[0])
    return 0


# --- spaces / devices ----------------------------------------------------------------------------------
def space_rows(sources) -> list[dict]:
    rows = []
    for name in SPACES.names():
        try:
            sp = load_space(name, sources)
        except HarnessError as e:
            rows.append({"name": name, "error": str(e)})
            continue
        devices = [p.name for p in profiles(sources) if p.covers(name)]
        groups, choice = space_skip_structure(sp)
        costs = sp.block_costs(next(iter(sp.tasks))) if sp.tasks else sp.block_costs(None)
        devices = [d for d in devices if costs is not None or get_profile(d, sources).kind != "analytic"]
        rows.append({"name": name, "size": sp.size, "blocks": sp.num_nodes, "choices": list(sp.num_choices),
                     "skip_from": sp.skip_from, "skip_groups": [list(g) for g in groups],
                     "skip_choice": list(choice), "exact_costs": costs is not None,
                     "tasks": {t: task.as_dict() for t, task in sp.tasks.items()},
                     "devices": devices, "source": sp.source})
    return rows


def cmd_spaces(args) -> int:
    rows = space_rows(args.sources)
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        if "error" in r:
            print(f"{r['name']}: unavailable ({r['error']})")
            continue
        choices = sorted(set(r["choices"]))
        shape = f"{r['blocks']} blocks x {choices[0] if len(choices) == 1 else '/'.join(map(str, choices))} choices"
        skips = f", skip from node {r['skip_from']}" if r["skip_from"] is not None else \
            (", skip groups " + " ".join("(" + ",".join(map(str, g)) + ")" for g in r["skip_groups"]) + " (Eq. 9)"
             if r["skip_groups"] else "")
        print(f"{r['name']}: {r['size']:,} rows, {shape}{skips}" + ("" if r["exact_costs"] else ", no exact FLOPs/params"))
        for t in r["tasks"].values():
            unit = f" ({t['unit']})" if t["unit"] else ""
            split = t["search_split"] if t["search_split"] == t["score_split"] else \
                f"search {t['search_split']}, score {t['score_split']}"
            if not t["has_accuracy"]:
                print(f"  task {t['name']:16s} no accuracy (hardware costs only), rows split: {split}")
                continue
            print(f"  task {t['name']:16s} {t['metric']}{unit}, {t['direction']} is better, split {split}")
        print(f"  devices: {', '.join(r['devices']) or 'none'}")
        print(f"  source: {r['source']}")
    return 0


def cmd_devices(args) -> int:
    rows = [p.as_dict() for p in profiles(args.sources)]
    if args.json:
        print_json(rows)
        return 0
    table = [{"name": r["name"], "kind": r["kind"] + (" (live)" if r["live"] and r["kind"] != "live" else ""),
              "metrics": ", ".join(f"{m} [{r['units'][m]}]" if r["units"][m] in ("ms", "mJ") else
                                   f"{r['units'][m]} (in the {m} slot)" for m in r["metrics"]),
              "spaces": ", ".join(r["spaces"]), "source": r["source"]} for r in rows]
    print(plain_table(table, ["name", "kind", "metrics", "spaces", "source"]))
    return 0


# --- optimum / pareto / arch --------------------------------------------------------------------------------
def cmd_optimum(args) -> int:
    args.device = device_of(args)
    gt = ground_truth(args.dataset, args.device, args.sources, space=args.space)
    limits = limits_from(args)
    best = optimum(gt, limits)
    if args.json:
        print_json({"space": args.space, "dataset": args.dataset, "device": args.device, "limits": limits,
                    **best.as_dict(), "optimum_metric": raw_metric(gt, best.accuracy), **metric_info(gt),
                    "units": _units(gt)})
        return 0
    u = _units(gt)
    lim = ", ".join(f"{m} <= {with_unit(v, u[m])}" for m, v in limits.items()) or "no limits"
    where = args.dataset if args.space == "nb201" else f"{args.space}/{args.dataset}"
    print(f"optimum on {where}/{args.device} ({lim}; {best.feasible_count:,} feasible): {best.arch}")
    parts = [f"index {best.row}", _metric_text(gt, best.accuracy) if best.accuracy is not None
             else f"{best.objective} {best.objective_value:g}"]
    parts += [f"{m} {with_unit(getattr(best, m), u[m])}" for m in ("latency", "energy", "flops", "params")
              if getattr(best, m) is not None]
    print("  " + "  ".join(parts))
    return 0


def cmd_pareto(args) -> int:
    args.device = device_of(args)
    gt = ground_truth(args.dataset, args.device, args.sources, space=args.space)
    costs = tuple(c.strip() for c in args.costs.split(",") if c.strip())
    rows = pareto_front(gt, costs)
    frame = pd.DataFrame({"arch_index": rows, "arch": [gt.space.decode(gt.codes[r]) for r in rows],
                          f"accuracy_{gt.unit('accuracy') or 'value'}": gt.accuracy[rows],
                          **{f"{c}_{gt.unit(c)}": gt.metric(c)[rows] for c in costs}})
    frame.columns = [c.replace("%", "pct").rstrip("_") for c in frame.columns]
    atomic_write_bytes(args.out, frame.to_csv(index=False).encode())
    print(f"wrote {len(frame)} Pareto-optimal architectures ({args.dataset}/{args.device}, accuracy vs "
          f"{' and '.join(costs)}) to {args.out}")
    return 0


def cmd_arch(args) -> int:
    args.device = device_of(args)
    gt = ground_truth(args.dataset, args.device, args.sources, space=args.space)
    code = gt.space.encode(args.arch)
    scored = score_code(gt, code, {}, args.sources)
    scored.pop("feasible")
    row = scored["arch_index"]
    out = {"space": args.space, "dataset": args.dataset, "device": args.device, "code": code, **scored,
           "true_params": None if gt.params is None else float(gt.params[row]), **metric_info(gt),
           "units": _units(gt)}
    if args.json:
        print_json(out)
        return 0
    u = _units(gt)
    for key, value in out.items():
        if key in ("units", "metric_unit") or (key == "true_metric" and task_of(gt).direction == "higher"):
            continue
        if key == "true_metric":
            value = with_unit(value, task_of(gt).unit, 6)
        metric = key.removeprefix("true_")
        text = with_unit(value, u[metric], 6) if metric in u and key.startswith("true_") else \
            (fmt_value(value) if not isinstance(value, np.ndarray) else str(value.tolist()))
        print(f"{key:15s} {text}")
    return 0


# --- predict / search ----------------------------------------------------------------------------------------
def _method_params(args) -> dict:
    params = {}
    for key in ("variant", "solver"):
        if getattr(args, key, None) is not None:
            params[key] = getattr(args, key)
    for item in args.param or []:
        if "=" not in item:
            raise HarnessError(f"--param {item[:80]!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if key in ("seed", "budget", "method", "dataset", "device", "space", "entry", "train_size"):
            raise HarnessError(f"--param {key}=...: {key} is an option of its own (use --{key.replace('_', '-')})")
        if key in params:
            raise HarnessError(f"--param {key} is given twice")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _budget(args) -> int | None:
    """--budget, with --train-size as its older spelling for predictors."""
    train = getattr(args, "train_size", None)
    if train is not None and args.budget is not None and train != args.budget:
        raise HarnessError(f"--train-size {train} and --budget {args.budget} disagree (--train-size is --budget)")
    budget = args.budget if args.budget is not None else train
    if budget is not None and budget < 1:
        raise HarnessError(f"--budget must be >= 1 (distinct evaluations), got {budget}")
    return budget


def _regime(args) -> dict:
    return {"regime": args.hardware, "hw_budget": args.hw_budget, "hw_cost": args.hw_cost}


def method_options(p: argparse.ArgumentParser, task: str) -> None:
    able = [n for n in METHODS.names() if _can(n, task)]
    p.add_argument("--method", required=True, help=f"one of: {', '.join(able)}")
    where_options(p)
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--budget", type=int, default=None,
                   help="max distinct architectures evaluated (accuracy queries) through the oracle")
    p.add_argument("--hardware", choices=REGIMES, default="free",
                   help="hardware regime: free lookups (default), charged (each measurement costs --hw-cost "
                        "evaluations of the budget) or blind (only what the method measures, at most --hw-budget)")
    p.add_argument("--hw-budget", type=int, default=None, metavar="N",
                   help="blind regime: distinct hardware measurements allowed (default: the budget)")
    p.add_argument("--hw-cost", type=float, default=0.1, metavar="F",
                   help="charged regime: evaluations one hardware measurement costs (default 0.1)")
    p.add_argument("--variant", default=None, help="MathNAS profiling variant: single, full, sampled, ...")
    if task == "predict":
        p.add_argument("--train-size", type=int, default=None, help="older spelling of --budget for predictors")
    p.add_argument("--solver", default=None, help="ILP backend for MathNAS/LANA (see `mathnas-bench solvers`)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="extra method parameter (repeatable)")
    json_flag(p)


def _can(name: str, task: str) -> bool:
    try:
        cls = method_class(name)
    except HarnessError:
        return True  # a broken plugin is reported when used
    return callable(getattr(cls, "predict", None)) if task == "predict" else callable(getattr(cls, "search", None))


def cmd_predict(args) -> int:
    args.device = device_of(args)
    out = predict_report(args.method, args.dataset, args.device, seed=args.seed, budget=_budget(args),
                         data=args.sources, space=args.space, **_regime(args), **_method_params(args))
    if args.json:
        print_json(out)
        return 0
    where = args.dataset if args.space == "nb201" else f"{args.space}/{args.dataset}"
    print(f"{args.method} on {where}/{args.device}: {out['queries']} evaluations, {out['hw_queries']} hardware "
          f"measurements ({out['regime']}), fit {out['fit_seconds']:.2f} s")
    for metric in ("accuracy", "latency", "energy"):
        s = out[metric]
        if s:
            print(f"  {metric:9s} tau {s['kendall_tau']:.4f}  rho {s['spearman']:.4f}  MSE {s['mse']:.4g}  "
                  f"MAE {s['mae']:.4g}  (n = {s['n']:,})")
    return 0


def cmd_search(args) -> int:
    args.device = device_of(args)
    problem = Problem(args.dataset, args.device, limits_from(args), space=args.space)
    out = search_report(args.method, problem, seed=args.seed, budget=_budget(args), data=args.sources,
                        **_regime(args), **_method_params(args))
    if args.json:
        print_json(out)
        return 0
    gt = ground_truth(args.dataset, args.device, args.sources, space=args.space)
    u = _units(gt)
    if out["arch"] is None:
        status = f"nothing found: {out.get('status', 'no result')} {out.get('reason', '')}".rstrip()
    else:
        status = "feasible" if out["feasible"] else \
            "feasibility unknown (unmeasured)" if out["feasible"] is None else "INFEASIBLE under the true limits"
    print(f"{args.method} on {problem.describe(u)}: {out['arch'] or '-'} ({status})")
    acc = with_unit(out["true_accuracy"], u["accuracy"], 6)
    regret = "n/a" if out["regret"] is None else \
        (f"{out['regret']:.4g}{' points' if u['accuracy'] == '%' else ''}" if out["feasible"] else
         "infeasible (no regret)")
    costs = "  ".join(f"{m} {with_unit(out.get('true_' + m), u[m])}" for m in ("latency", "energy")
                      if out.get("true_" + m) is not None)
    if task_of(gt).direction == "higher":
        print(f"  true accuracy {acc}  optimum {with_unit(out['optimum_accuracy'], u['accuracy'], 6)}  regret {regret}")
    else:
        unit = task_of(gt).unit
        print(f"  true {out['metric']} {with_unit(out['true_metric'], unit, 6)}  optimum "
              f"{with_unit(out['optimum_metric'], unit, 6)} (lower is better)  regret {regret}")
    print(f"  {costs + '  ' if costs else ''}evaluations {out['queries']}  hardware measurements {out['hw_queries']} "
          f"({out['regime']})  search {out['search_seconds']:.3f} s")
    return 0


# --- the parser ----------------------------------------------------------------------------------------------
def register(sub, common) -> tuple:
    """Add the core commands; returns the sub-parsers of the `data` and `devices` groups (for plugins)."""
    data = sub.add_parser("data", help="check or import ground-truth data", parents=[common])
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=type(data), metavar="COMMAND")
    check = data_sub.add_parser("check", parents=[common], help="validate the NB201 data folder (published maxima) and every other space's folder")
    json_flag(check)
    check.set_defaults(func=cmd_data_check)

    p = sub.add_parser("spaces", parents=[common], help="list search spaces: size, blocks, tasks, devices, source")
    json_flag(p)
    p.set_defaults(func=cmd_spaces)

    p = sub.add_parser("optimum", parents=[common], help="exact constrained optimum by enumeration")
    where_options(p)
    limit_options(p)
    json_flag(p)
    p.set_defaults(func=cmd_optimum)

    p = sub.add_parser("arch", parents=[common], help="true metrics of one architecture (the benchmark's arch string)")
    p.add_argument("arch", help="e.g. '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|"
                                "nor_conv_3x3~1|skip_connect~2|'")
    where_options(p, dataset="cifar10")
    json_flag(p)
    p.set_defaults(func=cmd_arch)

    p = sub.add_parser("pareto", parents=[common], help="exact Pareto front (accuracy vs one or two costs) to CSV")
    where_options(p)
    p.add_argument("--costs", default="latency", help="comma-separated: latency, energy, flops, params (default latency)")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="CSV file to write (units in the column names)")
    p.set_defaults(func=cmd_pareto)

    p = sub.add_parser("devices", parents=[common], help="list device profiles (and measure/additivity)")
    json_flag(p)
    p.set_defaults(func=cmd_devices)
    dev_sub = p.add_subparsers(dest="devices_command", parser_class=type(p), metavar="COMMAND")

    p = sub.add_parser("predict", parents=[common], help="fit a predictor and score it on every architecture")
    method_options(p, "predict")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("search", parents=[common], help="search under limits; re-scored with ground truth")
    method_options(p, "search")
    limit_options(p)
    p.set_defaults(func=cmd_search)
    return data_sub, dev_sub
