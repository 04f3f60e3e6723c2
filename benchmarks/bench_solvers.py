"""ILP backend benchmark (not a unit test): medians per backend, ratio-method comparison, largest size
solved to optimality within a time budget.

    python benchmarks/bench_solvers.py                 # everything (several minutes)
    python benchmarks/bench_solvers.py --quick         # fewer instances, shorter ladder
    python benchmarks/bench_solvers.py --json out.json

Sections
1. NB201: the MathNAS ILPs of NAS-Bench-201 (mathnas.ilp.nb201_family; needs the data folder from
   --data or $MATHNAS_BENCH_DATA) and synthetic problems of the same shape (6 nodes x 5 choices,
   accuracy/FLOPs ratio, 1-2 limits). Target: best backend < 10 ms median.
2. m=100, n=20 with 2 limits (linear and ratio objective). Target: best backend < 1 s median.
3. Ratio method per backend (Charnes-Cooper vs Dinkelbach) on both families above: justifies defaults.
4. Size ladder: the largest synthetic (m, n) each backend solves to proven optimality within --budget s.
Every answer is checked against the best known optimum (enumeration where possible).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyses.solver_bench import _warm_up, family_problems, synthetic_problem  # noqa: E402
from solvers import backend_names, backend_status, solve  # noqa: E402

BACKENDS = backend_names()
MILP_BACKENDS = [b for b in BACKENDS if b != "enumerate"]
from spaces.synthetic import make_space  # noqa: E402

LADDER = ((10, 5), (20, 10), (50, 10), (50, 20), (100, 20), (100, 30), (150, 30), (200, 30), (200, 50))
QUICK_LADDER = ((20, 10), (50, 20), (100, 20), (200, 50))


def _fmt(v):
    if v is None:
        return "-"
    return f"{v * 1e3:.2f} ms" if v < 1 else f"{v:.2f} s"


def run_set(problems, backends, time_limit, refs=None, **opts):
    """{backend: {"times": [...], "statuses": [...], "agree": int}} plus the reference objectives."""
    if refs is None:
        refs = []
        for p in problems:
            if p.size <= 2_000_000:
                refs.append(solve(p, "enumerate").objective)
            else:
                best = [solve(p, b, time_limit=60).objective for b in ("highs", "cpsat") if backend_status(b)[0]]
                refs.append(max([v for v in best if v is not None], default=None))
    out = {}
    for b in backends:
        times, statuses, agree = [], [], 0
        for p, ref in zip(problems, refs):
            s = solve(p, b, time_limit=time_limit, **({} if b == "enumerate" else opts))
            statuses.append(s.status)
            if s.status != "unavailable":
                times.append(s.seconds)
            if s.objective is not None and ref is not None and abs(s.objective - ref) <= 1e-6 * max(1, abs(ref)):
                agree += 1
        out[b] = {"median": float(np.median(times)) if times else None, "max": max(times) if times else None,
                  "optimal": statuses.count("optimal"), "unavailable": statuses.count("unavailable"),
                  "agree": agree, "instances": len(problems)}
    return out, refs


def print_set(title, res):
    print(f"\n## {title}")
    print(f"{'backend':10s} {'median':>10s} {'max':>10s} {'optimal':>8s} {'agree':>6s} {'unavail':>8s}")
    for b, r in sorted(res.items(), key=lambda kv: (kv[1]["median"] is None, kv[1]["median"] or 0)):
        print(f"{b:10s} {_fmt(r['median']):>10s} {_fmt(r['max']):>10s} {r['optimal']:>5d}/{r['instances']:<2d} "
              f"{r['agree']:>6d} {r['unavailable']:>8d}")
    sys.stdout.flush()


def ladder(backends, sizes, budget, seed=0):
    """Largest (m, n) each backend proves optimal within `budget` seconds (both objectives)."""
    largest = {}
    for b in backends:
        best = None
        for m, n in sizes:
            space = make_space(m, n, seed=seed)
            ok = True
            worst = 0.0
            why = ""
            for obj in ("accuracy", "accuracy/flops"):
                s = solve(synthetic_problem(space, obj, 0.3, 0.4), b, time_limit=budget)
                worst = max(worst, s.seconds)
                if not (s.status == "optimal" and s.seconds <= budget):
                    ok, why = False, f"  [{obj}: {s.status} {s.reason[:60]}]"
            print(f"  {b:10s} m={m:<4d} n={n:<3d} {'ok ' if ok else 'no '} slowest {_fmt(worst)}{why}", flush=True)
            if not ok:
                break
            best = (m, n, worst)
        largest[b] = best
    return largest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--budget", type=float, default=10.0, help="seconds per solve for the size ladder")
    ap.add_argument("--data", default=None, help="NB201 data folder for the MathNAS ILPs")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--json", default=None, metavar="FILE")
    args = ap.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    avail = [b for b in backends if backend_status(b)[0]]
    print("backends:", ", ".join(f"{b}{'' if b in avail else ' (unavailable)'}" for b in backends))
    print(f"cpu count {os.cpu_count()}, python {sys.version.split()[0]}")
    _warm_up(avail)
    report = {}

    # 1. NB201
    shape = family_problems("nb201-shape", 0)[: 10 if args.quick else 20]
    res, _ = run_set(shape, avail, 30)
    print_set(f"NB201-shaped synthetic (6x5, ratio, 1-2 limits, {len(shape)} problems)", res)
    report["nb201-shape"] = res
    real = None
    try:
        real = family_problems("nb201", 0, args.data or os.environ.get("MATHNAS_BENCH_DATA"))
    except Exception as e:  # noqa: BLE001 - the MathNAS module or the data may be missing here
        print(f"\n(nb201 MathNAS ILPs skipped: {str(e).splitlines()[0]})")
    if real:
        real = real[: 12 if args.quick else len(real)]
        res, real_refs = run_set(real, avail, 30)
        print_set(f"NB201 MathNAS ILPs (6x5, Eq. 6 ratio, {len(real)} problems: datasets x devices x limits)", res)
        report["nb201"] = res

    # 2. m=100, n=20, 2 limits
    k = 3 if args.quick else 6
    mid_lin = [synthetic_problem(make_space(100, 20, seed=s), "accuracy", 0.3, 0.4) for s in range(k)]
    mid_rat = [synthetic_problem(make_space(100, 20, seed=s), "accuracy/flops", 0.3, 0.4) for s in range(k)]
    res, _ = run_set(mid_lin, [b for b in avail if b != "enumerate"], 30)
    print_set(f"m=100 n=20, 2 limits, linear objective ({k} problems)", res)
    report["m100n20-linear"] = res
    res, mid_refs = run_set(mid_rat, [b for b in avail if b != "enumerate"], 30)
    print_set(f"m=100 n=20, 2 limits, ratio objective ({k} problems)", res)
    report["m100n20-ratio"] = res

    # 3. ratio methods
    print("\n## Ratio method per backend: median (optimal/instances)")
    fams = [("nb201-shape", shape, None), ("m100n20", mid_rat, mid_refs)]
    if real:
        fams.insert(1, ("nb201", real, real_refs))
    print(f"{'backend':10s} " + " ".join(f"{f + ' CC':>18s} {f + ' Dinkelbach':>22s}" for f, _, _ in fams))
    report["ratio"] = {}
    for b in [b for b in avail if b in MILP_BACKENDS]:
        cells = []
        for fam, probs, refs in fams:
            for method in ("charnes-cooper", "dinkelbach"):
                if b == "cpsat" and method == "charnes-cooper":
                    cells.append("n/a")
                    continue
                r, _ = run_set(probs, [b], 30, refs=refs, ratio=method)
                report["ratio"][f"{b}/{fam}/{method}"] = r[b]
                cells.append(f"{_fmt(r[b]['median'])} ({r[b]['optimal']}/{r[b]['instances']})")
        print(f"{b:10s} " + " ".join(f"{c:>18s} {d:>22s}" for c, d in zip(cells[::2], cells[1::2])), flush=True)

    # 4. ladder
    sizes = QUICK_LADDER if args.quick else LADDER
    print(f"\n## Size ladder: largest synthetic m x n proven optimal within {args.budget:g} s "
          f"(2 limits, linear and ratio objective)")
    largest = ladder([b for b in avail if b != "enumerate"], sizes, args.budget)
    print()
    for b, best in largest.items():
        print(f"{b:10s} " + ("none" if best is None else f"m={best[0]} n={best[1]} (slowest {_fmt(best[2])})"))
    report["ladder"] = {b: (None if v is None else {"m": v[0], "n": v[1], "seconds": v[2]}) for b, v in largest.items()}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    rc = main()
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")
    sys.exit(rc)
