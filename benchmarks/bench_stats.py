"""reports.stats benchmark and worked example (not a unit test).

    python benchmarks/bench_stats.py                 # Demšar's Table 6 report + timings
    python benchmarks/bench_stats.py --out DIR       # also writes DIR/stats.{md,tex,html} and DIR/cd.{png,svg}

1. Demšar (2006) Table 6 (four C4.5 variants, 14 data sets): the full report as Markdown.
2. Seconds of `analyze` on seeded synthetic leaderboards (N tasks x k methods, regret rounded to 0.1 so that
   ties and zero differences occur): the exhaustive permutation branch of the signed-rank test (ties or zeros,
   N <= 13) against scipy.stats.wilcoxon's own, which evaluates its statistic once per sign pattern.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports import stats as S  # noqa: E402

DEMSAR = {
    "adult (sample)": (0.763, 0.768, 0.771, 0.798), "breast cancer": (0.599, 0.591, 0.590, 0.569),
    "breast cancer wisconsin": (0.954, 0.971, 0.968, 0.967), "cmc": (0.628, 0.661, 0.654, 0.657),
    "ionosphere": (0.882, 0.888, 0.886, 0.898), "iris": (0.936, 0.931, 0.916, 0.931),
    "liver disorders": (0.661, 0.668, 0.609, 0.685), "lung cancer": (0.583, 0.583, 0.563, 0.625),
    "lymphography": (0.775, 0.838, 0.866, 0.875), "mushroom": (1.000, 1.000, 1.000, 1.000),
    "primary tumor": (0.940, 0.962, 0.965, 0.962), "rheum": (0.619, 0.666, 0.614, 0.669),
    "voting": (0.972, 0.981, 0.97501, 0.975),  # printed 0.975 / 0.975; the paper's ranks put C4.5+cf ahead
    "wine": (0.957, 0.978, 0.946, 0.970),
}
METHODS = ("C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf")
NAS = ("mathnas-single", "mathnas-full", "brpnas", "lana", "random@400", "evolution@200")


def demsar_frame() -> pd.DataFrame:
    return pd.DataFrame([(t, m, v) for t, vs in DEMSAR.items() for m, v in zip(METHODS, vs)],
                        columns=["task", "method", "value"])


def synthetic(n: int, k: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    regret = np.round(np.abs(rng.normal(size=(n, k)) + np.linspace(0, 1, k)), 1)
    return pd.DataFrame([(f"task{i}", NAS[j], regret[i, j]) for i in range(n) for j in range(k)],
                        columns=["task", "method", "value"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write the Demšar report and CD diagram here")
    args = ap.parse_args(argv)

    rep = S.analyze(demsar_frame(), higher_is_better=True, candidate="C4.5+m+cf", tie_correction=False,
                    metric="AUC")
    print(rep.markdown())
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "stats.md").write_text(rep.markdown())
        (args.out / "stats.tex").write_text(rep.latex())
        (args.out / "stats.html").write_text(rep.html())
        print("wrote", *rep.cd_diagram(args.out / "cd", title="Demšar (2006), Table 6"))

    print("\n| tasks | methods | analyze (s) | one pair: ours (s) | one pair: scipy.wilcoxon (s) |")
    print("|--:|--:|--:|--:|--:|")
    for n, k in ((6, 6), (10, 6), (13, 6), (30, 6), (100, 6)):
        frame = synthetic(n, k)
        t0 = time.perf_counter()
        S.analyze(frame, higher_is_better=False)
        t_all = time.perf_counter() - t0
        wide = frame.pivot(index="task", columns="method", values="value")
        d = (wide[NAS[0]] - wide[NAS[2]]).round(10).to_numpy()
        t0 = time.perf_counter()
        ours = S.signed_rank_test(d)[1]
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = sps.wilcoxon(d, zero_method="zsplit").pvalue
        t_ref = time.perf_counter() - t0
        assert abs(ours - ref) <= 1e-12, (n, ours, ref)
        print(f"| {n} | {k} | {t_all:.3f} | {t_ours:.4f} | {t_ref:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
