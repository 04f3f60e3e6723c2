"""`mathnas-bench devices measure` and `mathnas-bench devices additivity` (registered in the `devices` group).

They live with the analyses because `--with-profiling` and the additivity report need to know which
networks MathNAS profiles (analyses.additivity), which the device layer does not.
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from analyses import additivity
from core.errors import HarnessError, unknown_name
from core.sources import Sources
from core.text import print_json
from devices import get_profile, local, profiles
from spaces import load_space
from spaces.nb201_data import check_dataset


def register(subparsers, common: argparse.ArgumentParser | None = None) -> None:
    parents = [common] if common is not None else []

    p = subparsers.add_parser("measure", parents=parents,
                              help="measure a local profile (local-cpu) on this machine; cached and resumable")
    p.add_argument("device", help="local-cpu (or local-cpu-bB-tT for batch B and T threads)")
    p.add_argument("--space", default="nb201", help=f"search space whose networks are timed: "
                                                    f"{', '.join(local.SPACES)} (default nb201)")
    p.add_argument("--dataset", default="cifar10", help="network shape: cifar10 (default), cifar100, "
                                                        "imagenet16_120, darcy, ninapro (nb201); cifar10 (nasbench_macro)")
    p.add_argument("--sample", type=int, default=300, help="how many architectures (seeded; default 300)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    p.add_argument("--all", action="store_true", help="every architecture of the space (in seeded random order)")
    for flag, what in (("--batch", "batch size (default 1)"), ("--threads", "torch threads (default 1)"),
                       ("--repeats", "timed runs per architecture (default 15)"),
                       ("--warmup", "untimed runs before timing (default 3)")):
        p.add_argument(flag, type=int, default=None, help=what)
    p.add_argument("--cache", metavar="DIR", default=None,
                   help="cache folder (default $MATHNAS_BENCH_CACHE, else ~/.cache/mathnas-bench)")
    p.add_argument("--with-profiling", action="store_true",
                   help="also measure the 26 networks MathNAS `single` profiles (base network, N_avg sweep), "
                        "so `search --method mathnas --device local-cpu` can run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_measure)

    p = subparsers.add_parser("additivity", parents=parents,
                              help="is latency/energy additive over blocks? MathNAS block sums vs the truth")
    p.add_argument("--space", default="nb201", help="search space (default nb201; also fbnet, ofa_mbv3, ...)")
    p.add_argument("--device", action="append", metavar="DEV",
                   help="device profile (repeatable; default: every table profile of the space, plus local-cpu "
                        "when measured on nb201)")
    p.add_argument("--dataset", default=None, help="dataset (default: the space's first; nb201: cifar10)")
    p.add_argument("--cache", metavar="DIR", default=None, help="cache folder of local profiles")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_additivity)


# --- measure ---------------------------------------------------------------------------------------------
def _local_settings(args) -> tuple[int, int]:
    parsed = local.parse_profile_name(args.device)
    if parsed is None:
        try:
            kind = get_profile(args.device).kind
        except HarnessError:
            raise unknown_name("local device", args.device, [local.NAME, "local-cpu-bB-tT"]) from None
        raise HarnessError(f"device {args.device!r} is a {kind} profile; only local profiles can be measured "
                           f"({local.NAME}, or local-cpu-bB-tT for batch B and T threads)")
    batch, threads = parsed
    if args.device != local.NAME:
        for what, given, implied in (("batch", args.batch, batch), ("threads", args.threads, threads)):
            if given is not None and given != implied:
                raise HarnessError(f"--{what} {given} contradicts the device name {args.device!r}")
        return batch, threads
    return (batch if args.batch is None else args.batch), (threads if args.threads is None else args.threads)


def _measurable_space(args):
    """The space of `devices measure --space`: one the live profile covers, with the dataset checked."""
    if args.space not in local.SPACES:
        raise unknown_name("space to measure", args.space, local.SPACES)
    if args.space == "nb201":
        check_dataset(args.dataset)
    space = load_space(args.space, args.sources)
    if args.space != "nb201" and args.dataset not in space.tasks:
        raise unknown_name(f"dataset of space {args.space}", args.dataset, space.tasks)
    return space


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def cmd_measure(args) -> int:
    batch, threads = _local_settings(args)
    repeats = local.DEFAULT_REPEATS if args.repeats is None else args.repeats
    warmup = local.DEFAULT_WARMUP if args.warmup is None else args.warmup
    space = _measurable_space(args)
    if args.with_profiling and space.name != "nb201":
        raise HarnessError("--with-profiling measures NAS-Bench-201's profiling networks; it takes no --space")
    NUM_ARCHS = space.size
    rows = local.sample_rows(NUM_ARCHS if args.all else args.sample, args.seed, NUM_ARCHS)
    rep = local.measure(space, rows, args.dataset, batch=batch, threads=threads, repeats=repeats, warmup=warmup,
                        cache=args.cache, progress=not args.quiet)
    if args.with_profiling:
        measure_profiling_networks(space, args.dataset, batch, threads, args.cache, quiet=args.quiet,
                                   repeats=repeats, warmup=warmup)
    total = len(local.read_cache(rep.config, local.cache_dir(args.cache)))
    lo, med, hi = local.spread(rep.frame["median_ms"])
    per_arch = rep.seconds_per_arch
    name = local.profile_name(batch, threads)
    out = {"device": name, "space": space.name, "dataset": args.dataset, "batch": batch, "threads": threads, "repeats": repeats,
           "warmup": warmup, "torch_version": rep.config.torch_version, "cpu_model": rep.config.cpu_model,
           "requested": rep.requested, "new": rep.new, "cached": rep.cached, "seconds": rep.seconds,
           "seconds_per_arch": per_arch, "median_ms": {"min": lo, "median": med, "max": hi},
           "median_iqr_ms": float(np.median(rep.frame["iqr_ms"])) if len(rep.frame) else None,
           "cache_file": str(rep.file), "measured_total": total,
           "estimate_all_seconds": per_arch * NUM_ARCHS if rep.new else None,
           "estimate_remaining_seconds": per_arch * (NUM_ARCHS - total) if rep.new else None}
    if args.json:
        print_json(out)
        return 0
    print(f"{name} {args.dataset}: measured {rep.new} new architecture(s) in {rep.seconds:.1f} s"
          + (f" ({per_arch:.3f} s each)" if rep.new else "") + f", {rep.cached} already cached")
    print(f"  {rep.config.describe()}; median of {repeats} timed runs after {warmup} warm-up")
    print(f"  latency over the {len(rep.frame)}: min {lo:.3f} ms, median {med:.3f} ms, max {hi:.3f} ms; "
          f"median noise (IQR) {out['median_iqr_ms']:.3f} ms")
    print(f"  cache {rep.file} ({total:,} of {NUM_ARCHS:,} measured)")
    if rep.new and total < NUM_ARCHS:
        print(f"  at this rate all {NUM_ARCHS:,} take about {_minutes(per_arch * NUM_ARCHS)} "
              f"({NUM_ARCHS - total:,} still to measure: about {_minutes(per_arch * (NUM_ARCHS - total))})")
    if args.cache is not None:
        print(f"  other commands read the cache from ${local.ENV_CACHE} (or ~/.cache/mathnas-bench): "
              f"export {local.ENV_CACHE}={local.cache_dir(args.cache)}")
    on = "" if space.name == "nb201" else f"--space {space.name} "
    print(f"  use it: mathnas-bench optimum {on}--dataset {args.dataset} --device {name} --max-latency MS")
    return 0


# --- additivity ------------------------------------------------------------------------------------------
def _default_devices(space: str, dataset: str, cache) -> list[str]:
    """Every table profile covering the dataset, plus local-cpu when it has measurements for it (nb201)."""
    names = [p.name for p in profiles() if p.kind == "table" and p.covers(space, dataset)]
    if space == "nb201" and len(local.read_cache(local.Config.here(dataset), local.cache_dir(cache))):
        names.append(local.NAME)
    return names


def measure_profiling_networks(space, dataset: str, batch: int, threads: int, cache=None, quiet: bool = True,
                               repeats: int | None = None, warmup: int | None = None):
    """Measure what MathNAS `single` profiles: N_avg, its one-block switches and the base network (26, cached)."""
    ctx = additivity.context(space, space.block_costs(dataset).block_flops)
    return local.measure(space, additivity.profiling_rows(space, ctx), dataset, batch=batch,
                         threads=threads, cache=cache, progress=not quiet,
                         repeats=local.DEFAULT_REPEATS if repeats is None else repeats,
                         warmup=local.DEFAULT_WARMUP if warmup is None else warmup)


def _values(profile, space, dataset: str, sources, cache, quiet: bool) -> dict[str, np.ndarray]:
    """Truth of one profile; a live profile first measures the few profiling networks `single` needs."""
    if not profile.live:
        return profile.values(space, dataset, sources)
    batch, threads = local.parse_profile_name(profile.name)
    if not np.isfinite(local.measured_values(space, dataset, batch, threads, cache)).any():
        raise HarnessError(f"device {profile.name!r}: nothing measured yet for {dataset} on this machine; run "
                           f"`mathnas-bench devices measure {profile.name} --dataset {dataset}` first")
    measure_profiling_networks(space, dataset, batch, threads, cache, quiet)
    return {"latency": local.measured_values(space, dataset, batch, threads, cache)}


def _exact(profile, space, dataset: str, sources, metric: str):
    """codes -> the device's exact `metric` for codes without a row (None unless the profile knows any code)."""
    if not profile.answers_any_code(space.name):
        return None
    return lambda codes: profile.exact_values(space, dataset, codes, sources)[metric]


def additivity_rows(devices: list[str] | None, dataset: str | None, data=None, cache=None, quiet: bool = True,
                    implementation: str = "auto", space: str = "nb201") -> list[dict]:
    """The report as a list of {"device", "metric", "variant", "kendall_tau", "mape", "ceiling_kendall_tau", ...}."""
    sources = Sources.of(data)
    sp = load_space(space, sources)
    dataset = next(iter(sp.tasks)) if dataset is None else dataset
    if space == "nb201":
        check_dataset(dataset)
    elif dataset not in sp.tasks:
        raise unknown_name(f"dataset of space {space}", dataset, sp.tasks)
    explicit = devices is not None
    names = list(dict.fromkeys(devices)) if explicit else _default_devices(space, dataset, cache)
    costs = sp.block_costs(dataset)
    out = []
    for name in names:
        profile = get_profile(name, sources)
        try:
            values = _values(profile, sp, dataset, sources, cache, quiet)
        except HarnessError:
            if explicit:
                raise
            continue  # default set: skip table profiles this data folder or dataset lacks
        for metric, y in values.items():
            exact = _exact(profile, sp, dataset, sources, metric)
            for r in additivity.report(y, sp, costs, metric, implementation, exact=exact):
                out.append({"device": name, "space": space, "dataset": dataset, **r})
    return out


def _fmt(x: float, pct: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def cmd_additivity(args) -> int:
    rows = additivity_rows(args.device, args.dataset, args.sources, args.cache, quiet=args.json, space=args.space)
    if args.json:
        print_json([{k: r[k] for k in ("device", "space", "dataset", "metric", "variant", "kendall_tau", "mape",
                                       "ceiling_kendall_tau", "ceiling_mape", "mse", "ceiling_mse", "ceiling_r2",
                                       "rows", "implementation")} for r in rows])
        return 0
    where = rows[0]["dataset"] if rows else args.dataset
    print(f"additivity on {args.space}/{where}: Kendall tau / MAPE of MathNAS block sums vs the truth; "
          f"ceiling = best additive model (least squares, R^2); block sums by "
          f"{rows[0]['implementation'] if rows else 'n/a'}")
    print(f"{'device':18s} {'metric':8s} {'rows':>6s}  {'single tau':>10s} {'MAPE':>7s}  {'full tau':>8s} {'MAPE':>7s}"
          f"  {'ceiling tau':>11s} {'MAPE':>7s} {'R^2':>6s}")
    by_key: dict[tuple[str, str], dict[str, dict]] = {}
    for r in rows:
        by_key.setdefault((r["device"], r["metric"]), {})[r["variant"]] = r
    for (device, metric), v in by_key.items():
        s, f = v["single"], v["full"]
        print(f"{device:18s} {metric:8s} {s['rows']:6d}  {_fmt(s['kendall_tau']):>10s} {_fmt(s['mape'], True):>7s}"
              f"  {_fmt(f['kendall_tau']):>8s} {_fmt(f['mape'], True):>7s}"
              f"  {_fmt(s['ceiling_kendall_tau']):>11s} {_fmt(s['ceiling_mape'], True):>7s} {_fmt(s['ceiling_r2']):>6s}")
    if not rows:
        print("no device has data for this dataset", file=sys.stderr)
    return 0
