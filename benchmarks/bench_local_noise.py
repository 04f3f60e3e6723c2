"""Test-retest noise of live local-cpu timings (not a unit test: wall-clock agreement depends on the load).

    python benchmarks/bench_local_noise.py [--sample 40] [--repeats 15] [--dataset cifar10]

Times a seeded sample of NAS-Bench-201 networks twice, uncached and interleaved, and prints the
Kendall tau between the two runs, the median relative difference, and the share of networks whose second
median lies within 3 IQRs (or half the median) of the first: the noise ceiling of any latency predictor
scored on this machine.
"""
from __future__ import annotations

import argparse

import numpy as np

from core.metrics import kendall_tau
from devices import local
from spaces import load_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--dataset", default="cifar10")
    args = ap.parse_args()
    space = load_space("nb201")
    rows = local.sample_rows(args.sample, seed=0)
    codes = [space.enumerate()[r] for r in rows]
    first = local.time_archs(space, codes, args.dataset, repeats=args.repeats, seed=0)
    second = local.time_archs(space, codes, args.dataset, repeats=args.repeats, seed=1)
    a = np.array([x["median_ms"] for x in first])
    b = np.array([x["median_ms"] for x in second])
    iqr = np.maximum([x["iqr_ms"] for x in first], [x["iqr_ms"] for x in second])
    within = np.abs(a - b) <= np.maximum(3 * iqr, 0.5 * a)
    print(f"{args.sample} networks, {args.repeats} timed runs each, {args.dataset}")
    print(f"  test-retest Kendall tau {kendall_tau(a, b):.3f}; median |relative difference| "
          f"{np.median(np.abs(a - b) / a):.1%}; within 3 IQR (or 50 %): {within.mean():.0%}")


if __name__ == "__main__":
    main()
