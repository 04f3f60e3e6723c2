"""Baseline figures at equal cost, through the same oracle and scoring as MathNAS.

  python benchmarks/bench_baselines.py                  # everything below (about an hour on 2 cores)
  python benchmarks/bench_baselines.py --part search    # only the random/evolution regret curves

Parts:
  tau     BRP-NAS accuracy Kendall tau over all 15,625 networks at 100 and 900 training networks,
          mean and std over seeds, per dataset, with the fit time of the accuracy predictor
  fit     one default fit on a device: the accuracy predictor at 900 networks and the 900-sample
          latency regressor, timed apiece
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


def part_tau(datasets, sizes, seeds, device, threads):
    print(f"\n## BRP-NAS (binary, 5 rounds, alpha 0.5): accuracy Kendall tau over all networks, {len(seeds)} seeds")
    print(f"{'dataset':16s} {'train':>5s} {'tau mean':>9s} {'tau std':>8s} {'rho mean':>9s} {'p@20':>6s} "
          f"{'fit s mean':>10s} {'fit s max':>9s}")
    for ds in datasets:
        for n in sizes:
            taus, rhos, p20, secs = [], [], [], []
            for s in seeds:
                out = predict_report("brpnas", ds, device, seed=s, train_size=n, latency_train_size=0, threads=threads)
                taus.append(out["accuracy"]["kendall_tau"])
                rhos.append(out["accuracy"]["spearman"])
                p20.append(out["accuracy"]["precision_at_20"])
                secs.append(out["fit_seconds"])
                print(f"  # {ds} n={n} seed={s}: tau {taus[-1]:.4f} fit {secs[-1]:.1f}s", file=sys.stderr, flush=True)
            print(f"{ds:16s} {n:5d} {np.mean(taus):9.4f} {np.std(taus, ddof=1) if len(taus) > 1 else 0:8.4f} "
                  f"{np.mean(rhos):9.4f} {np.mean(p20):6.2f} {np.mean(secs):10.1f} {np.max(secs):9.1f}", flush=True)


def part_fit(dataset, device, threads):
    from evaluation.groundtruth import ground_truth
    from harness.methods import make_method
    from core.metrics import kendall_tau
    from core.oracle import Oracle

    print(f"\n## One default BRP-NAS fit ({dataset}/{device}): accuracy predictor on 900 networks, "
          f"latency predictor on 900")
    gt = ground_truth(dataset, device)
    oracle = Oracle(gt)
    m = make_method("brpnas", seed=0, train_size=900, threads=threads)
    t0 = time.perf_counter()
    m.fit(oracle, None)
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
    p.add_argument("--part", choices=("all", "tau", "fit", "search"), default="all")
    p.add_argument("--datasets", default="cifar10,cifar100,imagenet16_120")
    p.add_argument("--sizes", default="100,900")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--device", default="fpga")
    p.add_argument("--search-dataset", default="cifar100")
    p.add_argument("--max-latency", type=float, default=4.0)
    p.add_argument("--budgets", default="25,50,100,200")
    p.add_argument("--threads", type=int, default=1, help="torch threads per fit (default 1)")
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
    if args.part in ("all", "tau"):
        part_tau(args.datasets.split(","), [int(n) for n in args.sizes.split(",")], seeds, args.device, args.threads)
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
