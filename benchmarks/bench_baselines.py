"""Baseline figures at equal cost, through the same oracle and scoring as MathNAS.

  python benchmarks/bench_baselines.py                  # tau, fit and search (about an hour on 2 cores)
  python benchmarks/bench_baselines.py --part search    # only the random/evolution regret curves
  python benchmarks/bench_baselines.py --part speed --repeats 3              # BRP-NAS fit time, threads 1 and 2
  python benchmarks/bench_baselines.py --part speed --param dropout_per=state  # ... with a setting changed

Parts:
  tau     BRP-NAS accuracy Kendall tau over all 15,625 networks at 100 and 900 training networks,
          mean and std over seeds, per dataset, with the fit time of the accuracy predictor
  fit     one default fit on a device: the accuracy predictor at 900 networks and the 900-sample
          latency regressor, timed apiece
  speed   wall and CPU seconds of the BRP-NAS accuracy predictor's fit at its default (published, see
          the deviations it prints) settings at each train size and torch thread count (--threads-list),
          --repeats runs each with seeds 0..repeats-1, interleaved so that load from other users spreads
          evenly, after one warm-up fit; with the Kendall tau and the load average before/after every fit.
          Targets (2 cores): 100 networks <= 15 s, 900 <= 60 s.
  search  regret of random search and regularized evolution at budgets 25, 50, 100, 200 (mean over
          seeds) for one dataset, device and latency limit, with LANA (25 evaluations) beside them
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.evaluate import predict_report, search_report  # noqa: E402
from core.protocols import Problem  # noqa: E402
from harness.commands import _method_params  # noqa: E402


def part_speed(dataset, sizes, threads_list, repeats, device, params):
    """Wall and CPU seconds of the accuracy predictor's fit (CPU seconds of one thread barely move with
    other users' load; wall seconds do), after one warm-up fit that pays what a process pays once
    (torch imports its compiler on the first optimizer, the space's graph table and plan)."""
    import resource

    from baselines.brpnas import BRPNAS
    from core.metrics import kendall_tau
    from core.oracle import Oracle
    from core.protocols import make_method
    from evaluation.groundtruth import ground_truth

    def cpu_seconds():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    print(f"\n## BRP-NAS accuracy predictor fit time ({dataset}, {repeats} runs each, seeds 0..{repeats - 1}, "
          f"params {params or 'default'})")
    print("# deviations from eagle: " + "; ".join(BRPNAS(latency_train_size=0, **params).deviations()))
    gt = ground_truth(dataset, device)
    t0, c0 = time.perf_counter(), cpu_seconds()
    make_method("brpnas", seed=0, rounds=2, epochs=1, hidden=8, latency_train_size=0).fit(Oracle(gt, budget=10))
    print(f"# warm-up fit (once per process): {time.perf_counter() - t0:.1f} s wall, {cpu_seconds() - c0:.1f} s CPU")
    runs: dict = {}
    for rep in range(repeats):
        for n in sizes:
            for t in threads_list:
                m = make_method("brpnas", seed=rep, latency_train_size=0, threads=t, **params)
                load0, t0, c0 = os.getloadavg()[0], time.perf_counter(), cpu_seconds()
                m.fit(Oracle(gt, budget=n))
                wall, cpu, load1 = time.perf_counter() - t0, cpu_seconds() - c0, os.getloadavg()[0]
                tau = kendall_tau(m.predict(gt.codes)["accuracy"], gt.accuracy)
                runs.setdefault((n, t), []).append((wall, cpu, tau, load0, load1))
                print(f"  # n={n} threads={t} seed={rep}: fit {wall:.1f}s wall {cpu:.1f}s CPU, tau {tau:.4f}, "
                      f"load {load0:.1f}->{load1:.1f}", file=sys.stderr, flush=True)
    print(f"{'train':>5s} {'threads':>7s} {'wall s mean':>11s} {'min':>6s} {'max':>6s} {'CPU s mean':>10s} "
          f"{'tau mean':>9s} {'tau std':>8s} {'load min-max':>12s}")
    for (n, t), rs in runs.items():
        wall, cpu, tau = (np.array([r[i] for r in rs]) for i in range(3))
        loads = [x for r in rs for x in r[3:]]
        print(f"{n:5d} {t:7d} {wall.mean():11.1f} {wall.min():6.1f} {wall.max():6.1f} {cpu.mean():10.1f} "
              f"{tau.mean():9.4f} {tau.std(ddof=1) if tau.size > 1 else 0:8.4f} {min(loads):5.1f}-{max(loads):<5.1f}",
              flush=True)


def part_tau(datasets, sizes, seeds, device, threads, params=None):
    params = params or {}
    print(f"\n## BRP-NAS (binary, 5 rounds, alpha 0.5): accuracy Kendall tau over all networks, {len(seeds)} seeds")
    print(f"{'dataset':16s} {'train':>5s} {'tau mean':>9s} {'tau std':>8s} {'rho mean':>9s} {'p@20':>6s} "
          f"{'fit s mean':>10s} {'fit s max':>9s}")
    for ds in datasets:
        for n in sizes:
            taus, rhos, p20, secs = [], [], [], []
            for s in seeds:
                out = predict_report("brpnas", ds, device, seed=s, budget=n, latency_train_size=0, threads=threads,
                                     **params)
                taus.append(out["accuracy"]["kendall_tau"])
                rhos.append(out["accuracy"]["spearman"])
                p20.append(out["accuracy"]["precision_at_20"])
                secs.append(out["fit_seconds"])
                print(f"  # {ds} n={n} seed={s}: tau {taus[-1]:.4f} fit {secs[-1]:.1f}s", file=sys.stderr, flush=True)
            print(f"{ds:16s} {n:5d} {np.mean(taus):9.4f} {np.std(taus, ddof=1) if len(taus) > 1 else 0:8.4f} "
                  f"{np.mean(rhos):9.4f} {np.mean(p20):6.2f} {np.mean(secs):10.1f} {np.max(secs):9.1f}", flush=True)


def part_fit(dataset, device, threads):
    from evaluation.groundtruth import ground_truth
    from core.metrics import kendall_tau
    from core.oracle import Oracle
    from core.protocols import make_method

    print(f"\n## One default BRP-NAS fit ({dataset}/{device}): accuracy predictor on 900 networks, "
          f"latency predictor on 900")
    gt = ground_truth(dataset, device)
    oracle = Oracle(gt, budget=900)
    m = make_method("brpnas", seed=0, threads=threads)
    t0 = time.perf_counter()
    m.fit(oracle)
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = m.predict(gt.codes)
    print(f"accuracy fit {m.seconds['accuracy']:.1f}s (tau {kendall_tau(pred['accuracy'], gt.accuracy):.4f}), "
          f"latency fit {m.seconds['latency']:.1f}s (tau {kendall_tau(pred['latency'], gt.latency):.4f}), "
          f"whole fit {fit:.1f}s, predicting all 15,625 networks {time.perf_counter() - t0:.1f}s; "
          f"queries {oracle.queries}, hardware queries {oracle.hw_queries}", flush=True)


def part_search(dataset, device, max_latency, budgets, seeds):
    problem = Problem(dataset, device, {"latency": max_latency})
    print(f"\n## Regret (optimum - found, accuracy points) on {problem.describe()}, mean over {len(seeds)} seeds")
    print(f"{'method':10s} " + " ".join(f"{'B=' + str(b):>8s}" for b in budgets) + "   (feasible runs / all)")
    for method in ("random", "evolution"):
        cells, ok, total = [], 0, 0
        for b in budgets:
            regrets = []
            for s in seeds:
                out = search_report(method, problem, seed=s, budget=b)
                regrets.append(out["regret"])
                ok += bool(out["feasible"])
                total += 1
            cells.append(f"{np.mean(regrets):8.3f}")
        print(f"{method:10s} " + " ".join(cells) + f"   ({ok}/{total})", flush=True)
    out = search_report("lana", problem, seed=0, budget=25)
    print(f"{'lana':10s} regret {out['regret']:.3f} with 25 evaluations (deterministic), feasible: {out['feasible']}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("all", "tau", "fit", "search", "speed"), default="all")
    p.add_argument("--datasets", default="cifar10,cifar100,imagenet16_120")
    p.add_argument("--sizes", default="100,900")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--device", default="fpga")
    p.add_argument("--search-dataset", default="cifar100")
    p.add_argument("--max-latency", type=float, default=4.0)
    p.add_argument("--budgets", default="25,50,100,200")
    p.add_argument("--threads", type=int, default=1, help="torch threads per fit (default 1)")
    p.add_argument("--threads-list", default="1,2", help="speed: torch thread counts to time")
    p.add_argument("--repeats", type=int, default=3, help="speed: runs per train size and thread count")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="BRP-NAS parameter for tau/speed (repeatable)")
    args = p.parse_args(argv)
    os.environ.setdefault("MATHNAS_BENCH_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "nb201"))
    seeds = list(range(args.seeds))
    print(f"# bench_baselines: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start, "
          f"torch threads {args.threads}")
    if args.part in ("all", "search"):
        part_search(args.search_dataset, args.device, args.max_latency,
                    [int(b) for b in args.budgets.split(",")], seeds)
    if args.part in ("all", "fit"):
        part_fit("cifar10", args.device, args.threads)
    params = _method_params(args)
    if args.part in ("all", "tau"):
        part_tau(args.datasets.split(","), [int(n) for n in args.sizes.split(",")], seeds, args.device, args.threads,
                 params)
    if args.part == "speed":
        part_speed(args.datasets.split(",")[0], [int(n) for n in args.sizes.split(",")],
                   [int(t) for t in args.threads_list.split(",")], args.repeats, args.device, params)
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
