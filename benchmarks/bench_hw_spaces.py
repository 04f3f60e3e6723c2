"""Latency prediction on the hardware-only spaces (FBNet, OFA MobileNetV3), per device and per device family.

  python benchmarks/bench_hw_spaces.py                 # both spaces (a few minutes on 2 cores)
  python benchmarks/bench_hw_spaces.py --space fbnet

For every device: Kendall tau of the latency predicted by MathNAS `single` (devices that answer any code:
FBNet's lookup-table devices), `full` and `sampled` (Eq. 3 over the 4,000 train rows, resp. a seeded 5 % of
them) and LANA (lookup-table devices), scored on the 1,000 test rows exactly as `mathnas-bench predict`
does; and the additive ceiling of `mathnas-bench devices additivity` (least squares over all 5,000 rows:
in-sample tau and R^2). Family lines give the mean over the family's devices.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyses.device_commands import additivity_rows  # noqa: E402
from core.errors import HarnessError  # noqa: E402
from devices import get_profile  # noqa: E402
from devices.help_tables import COARSE_MS, LUT_DEVICES  # noqa: E402
from evaluation.evaluate import predict_report  # noqa: E402
from spaces import fbnet, load_space, ofa_mbv3  # noqa: E402

METHODS = (("single", "mathnas", {"variant": "single"}), ("full", "mathnas", {"variant": "full"}),
           ("sampled", "mathnas", {"variant": "sampled"}), ("lana", "lana", {}))


def family(space: str, device: str) -> str:
    if space == "ofa_mbv3":
        return "GPU batch 1" if device.endswith("_1") else "GPU batch 32/64"
    if device in LUT_DEVICES:
        return "lookup table"
    if device in COARSE_MS:
        return "phone (ms timer)"
    return "CPU" if device.startswith(("gold", "silver")) else "GPU"


def tau(method, space, dataset, device, params):
    try:
        return predict_report(method, dataset, device, space=space, **params)["latency"]["kendall_tau"]
    except HarnessError:     # needs codes the device cannot answer
        return float("nan")


def run(space: str) -> None:
    sp = load_space(space)
    dataset = next(iter(sp.tasks))
    devices = fbnet.DEVICES if space == "fbnet" else ofa_mbv3.DEVICES
    ceiling = {r["device"]: r for r in additivity_rows(list(devices), dataset, space=space, implementation="numpy")
               if r["variant"] == "full"}
    rows = []
    for d in devices:
        rows.append({"device": d, "family": family(space, d), **{k: tau(m, space, dataset, d, p) for k, m, p in METHODS},
                     "ceiling": ceiling[d]["ceiling_kendall_tau"], "r2": ceiling[d]["ceiling_r2"],
                     "exact": get_profile(d).answers_any_code(space)})
    cols = [k for k, _, _ in METHODS] + ["ceiling", "r2"]
    print(f"\n## {space}/{dataset}: latency Kendall tau on the 1,000 test rows; ceiling = least squares over all "
          f"5,000 rows (in-sample tau, R^2)")
    print(f"{'device':16s} {'family':17s} " + " ".join(f"{c:>8s}" for c in cols))
    fmt = lambda v: "     n/a" if np.isnan(v) else f"{v:8.3f}"  # noqa: E731
    for r in rows:
        print(f"{r['device']:16s} {r['family']:17s} " + " ".join(fmt(r[c]) for c in cols))
    print()
    for fam in dict.fromkeys(r["family"] for r in rows):
        mine = [r for r in rows if r["family"] == fam]
        means = [np.mean([r[c] for r in mine]) for c in cols]
        print(f"{'mean ' + fam:34s} " + " ".join(fmt(v) for v in means) + f"   ({len(mine)} devices)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", choices=("fbnet", "ofa_mbv3"), action="append")
    for space in ap.parse_args().space or ("fbnet", "ofa_mbv3"):
        run(space)


if __name__ == "__main__":
    main()
