"""Compare ILP backends on families of `ChoiceProblem`s: speed, status and correctness.

A family is a function `(seed, sources=None) -> list[ChoiceProblem]`, registered by entry point (group
mathnas_bench.families). Built in: `small` (enumerable, mixed objectives, skip choices, infeasible ones),
`nb201-shape` (synthetic 6 nodes x 5 choices, ratio objective, 1-2 limits), `scale` (synthetic,
m 10..200, n 5..50, 2 limits), `nb201` (the MathNAS ILPs of NAS-Bench-201: real block tables, real
latency limits) and `fbnet` (22 x 9, the exact per-layer latency tables of four real devices as
constraints; 9^22 codes, so the reference is the best proven optimum).

The reference answer of an instance is the enumeration optimum when the space has at most
`ENUM_REFERENCE_LIMIT` codes, else the best objective any backend proved optimal.
"""
from __future__ import annotations

import csv
import inspect
import io
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import HarnessError, unknown_name
from core.files import atomic_write_bytes, ensure_dir
from core.oracle import Oracle
from core.plots import solver_time_vs_size
from core.registry import FAMILIES
from devices.help_tables import LUT_DEVICES, lookup_tables
from evaluation.groundtruth import ground_truth
from mathnas.method import MathNAS
from solvers import ChoiceProblem, Constraint, backend_names, solve
from spaces import fbnet as fbnet_space
from spaces import load_space
from spaces.synthetic import SyntheticSpace, make_space

ENUM_REFERENCE_LIMIT = 2_000_000
REL_TOL = 1e-6
OBJECTIVES = ("accuracy", "accuracy/flops")


def synthetic_problem(space: SyntheticSpace, objective: str = "accuracy", latency_q: float | None = 0.5,
                      energy_q: float | None = 0.5, samples: int = 20_000, name: str | None = None) -> ChoiceProblem:
    """Maximise a synthetic space's additive accuracy (or accuracy/FLOPs) under latency <= L and energy <= E.

    L and E are the given quantiles of the true latency/energy (None leaves that limit out)."""
    if objective not in OBJECTIVES:
        raise HarnessError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVES)}")
    num, num_const = space.additive("accuracy")
    den = den_const = None
    if objective == "accuracy/flops":
        f, f0 = space.additive("flops")
        scale = 1e-6  # MMACs keeps the ratio in a readable range
        den, den_const = tuple(b * scale for b in f), f0 * scale
    cons = []
    for metric, q in (("latency", latency_q), ("energy", energy_q)):
        if q is not None:
            blocks, c0 = space.additive(metric)
            cons.append(Constraint(metric, blocks, space.limit(metric, q, samples), c0))
    label = name or (f"{space.name}:{objective}" + "".join(
        f":{m[0]}{q:g}" for m, q in (("latency", latency_q), ("energy", energy_q)) if q is not None))
    return ChoiceProblem(num=num, num_const=num_const, den=den, den_const=den_const or 0.0,
                         constraints=tuple(cons), skip_from=space.skip_from, name=label)


def small(seed: int) -> list[ChoiceProblem]:
    """24 enumerable problems: accuracy and accuracy/FLOPs, 0-2 limits, Eq. 9 skip, tight (often infeasible) limits."""
    rng = np.random.default_rng([seed, 11])
    out = []
    for k in range(24):
        m = int(rng.integers(3, 8))
        n = int(rng.integers(2, 7))
        skip = int(rng.integers(1, m)) if k % 3 == 2 else None
        space = make_space(m, n, seed=seed * 1000 + k, strength=0.2, skip_from=skip)
        q = [None, 0.02, 0.2, 0.5][k % 4] if k % 8 < 4 else [0.3, 0.6, 0.0, 0.9][k % 4]
        q2 = None if k % 2 else float(rng.uniform(0.0, 0.8))
        obj = "accuracy/flops" if k % 4 in (1, 3) else "accuracy"
        out.append(synthetic_problem(space, obj, latency_q=q, energy_q=q2, name=f"small-{k}:{space.name}:{obj}"))
    return out


def nb201_shape(seed: int) -> list[ChoiceProblem]:
    """20 synthetic problems with NAS-Bench-201's shape: 6 nodes x 5 choices, ratio objective, 1-2 limits."""
    out = []
    for k in range(20):
        space = make_space(6, 5, seed=seed * 1000 + k, strength=0.2)
        q = 0.1 + 0.8 * ((k * 7) % 20) / 20
        out.append(synthetic_problem(space, "accuracy/flops", latency_q=q,
                                     energy_q=None if k % 2 else min(q + 0.1, 1.0), name=f"nb201-shape-{k}:{space.name}"))
    return out


SCALE_SIZES = ((10, 5), (20, 10), (50, 10), (50, 20), (100, 20), (150, 30), (200, 50))


def scale(seed: int) -> list[ChoiceProblem]:
    """Growing synthetic problems (m, n in SCALE_SIZES), 2 limits; linear and ratio objective each."""
    out = []
    for m, n in SCALE_SIZES:
        space = make_space(m, n, seed=seed, strength=0.1)
        for obj in ("accuracy", "accuracy/flops"):
            out.append(synthetic_problem(space, obj, latency_q=0.3, energy_q=0.4, name=f"scale-m{m}-n{n}:{obj}"))
    return out


NB201_DEVICES = ("fpga", "eyeriss", "raspi4", "pixel3", "gold_6226", "pi5-onnx")
NB201_DATASETS = ("cifar10", "cifar100")
NB201_QUANTILES = (0.25, 0.5, 0.75)


def nb201(seed: int, sources=None, variant: str = "single") -> list[ChoiceProblem]:
    """The MathNAS ILPs of NAS-Bench-201: cifar10/cifar100 x six devices x latency limits at the
    0.25/0.5/0.75 quantiles of the TRUE latency (pi5-onnx: energy limit at the same quantile too).

    Block tables are profiled once per (dataset, device) with `variant` and `seed` (36 problems)."""
    problems = []
    for dataset in NB201_DATASETS:
        for device in NB201_DEVICES:
            gt = ground_truth(dataset, device, sources)
            method = MathNAS(seed=seed, variant=variant).fit(Oracle(gt))
            for q in NB201_QUANTILES:
                limits = {"latency": float(np.quantile(gt.latency, q))}
                if gt.energy is not None:
                    limits["energy"] = float(np.quantile(gt.energy, q))
                problems.append(method.problem(limits, name=f"mathnas-nb201/{dataset}/{device}/q{q:g}"))
    return problems


FBNET_QUANTILES = (0.1, 0.5, 0.9)


def fbnet(seed: int, sources=None) -> list[ChoiceProblem]:
    """FBNet on four real devices: 22 layers x 9 choices (198 binaries), 13 instances.

    Constraints are the devices' exact latency, base + sum of per-layer lookup-table entries (fpga, eyeriss,
    pixel3, raspi4; devices.help_tables), with the limit at the 0.1/0.5/0.9 quantile of the 5,000 samples'
    latency: one instance per (device, quantile), and one with all four limits at the median. Objective: FBNet
    has no accuracy and no validated FLOPs, so the instances maximise its declared size index (the space's
    `size_proxy`: sum over layers of expansion x kernel^2, skip 0): the biggest network within the latency
    budget, a linear surrogate of capacity. The seed changes nothing: the instances are the data's own."""
    space = load_space(fbnet_space.FBNetSpace.name, sources)
    luts = lookup_tables(sources)
    measured = fbnet_space.load_tables(sources).latency
    num = space.size_proxy()

    def limit(device: str, q: float) -> Constraint:
        lut = luts[device]
        return Constraint(f"latency:{device}", tuple(lut.table), float(np.quantile(measured[device], q)), lut.base)

    problems = [ChoiceProblem(num=num, constraints=(limit(d, q),), name=f"fbnet/{d}/q{q:g}")
                for d in LUT_DEVICES for q in FBNET_QUANTILES]
    problems.append(ChoiceProblem(num=num, constraints=tuple(limit(d, 0.5) for d in LUT_DEVICES),
                                  name="fbnet/all-four/q0.5"))
    return problems


def family_problems(name: str, seed: int = 0, sources=None) -> list[ChoiceProblem]:
    """The instances of a registered family; `sources` (data folders) go to families that take them."""
    fn = FAMILIES.get(name)
    takes = "sources" in inspect.signature(fn).parameters
    return list(fn(seed, sources=sources) if takes else fn(seed))


def parse_list(text: str | None, valid, kind: str) -> list[str]:
    names = [t.strip() for t in (text or "").split(",") if t.strip()]
    for n in names:
        if n not in valid:
            raise unknown_name(kind, n, valid)
    return names


@dataclass
class SolveRecord:
    family: str
    instance: str
    backend: str
    m: int
    choices: int          # sum of n_i (= m * n for uniform spaces)
    ratio: bool
    limits: int
    status: str
    seconds: float
    objective: float | None
    reference: float | None
    reference_kind: str   # enumeration | best-proven | best-found | infeasible | none
    gap: float | None     # (reference - objective) / |reference|
    agree: bool
    nodes: int | None
    reason: str


def _agree(obj, ref, status, ref_kind) -> bool:
    if ref_kind == "infeasible":
        return status == "infeasible"
    if obj is None or ref is None:
        return False
    return abs(obj - ref) <= REL_TOL * max(1.0, abs(ref))


def _reference(problem: ChoiceProblem, sols: dict, time_limit: float):
    """(value, kind) of the best known answer."""
    if problem.size <= ENUM_REFERENCE_LIMIT:
        ref = sols.get("enumerate")
        if ref is None or ref.status not in ("optimal", "infeasible"):
            ref = solve(problem, "enumerate", time_limit=max(time_limit, 600.0))
        if ref.status == "infeasible":
            return None, "infeasible"
        if ref.status == "optimal":
            return ref.objective, "enumeration"
    proven = [s.objective for s in sols.values() if s.status == "optimal"]
    if proven:
        return max(proven), "best-proven"
    if any(s.status == "infeasible" for s in sols.values()):
        return None, "infeasible"
    found = [s.objective for s in sols.values() if s.objective is not None]
    return (max(found), "best-found") if found else (None, "none")


def _warm_up(backends) -> None:
    """Import each backend and solve a toy problem once, so timings exclude import costs."""
    toy = ChoiceProblem(num=([1.0, 2.0], [0.5, 0.1]), den=([1.0, 2.0], [1.0, 1.0]))
    for b in backends:
        solve(toy, b, time_limit=10.0)
        solve(ChoiceProblem(num=toy.num), b, time_limit=10.0)


def run_benchmark(families, backends, time_limit: float = 10.0, seed: int = 0, progress: bool = True,
                  ratio: str | None = None, data=None) -> list[SolveRecord]:
    """Solve every instance of every family with every backend; one record per solve."""
    families = list(families)
    backends = list(backends)
    for f in families:
        if f not in FAMILIES:
            raise unknown_name("instance family", f, FAMILIES.names())
    for b in backends:
        if b not in backend_names():
            raise unknown_name("solver", b, backend_names())
    if time_limit is None or not time_limit > 0:
        raise HarnessError(f"--time-limit must be > 0 seconds, got {time_limit}")
    work = [(f, p) for f in families for p in family_problems(f, seed, data)]
    _warm_up(backends)
    from tqdm import tqdm

    bar = tqdm(total=len(work) * len(backends), file=sys.stderr, disable=None if progress else True,
               desc="solvers", unit="solve")
    records = []
    opts = {"ratio": ratio} if ratio else {}
    for fam, problem in work:
        sols = {}
        for b in backends:
            bar.set_postfix_str(f"{b} {problem.name[:30]}")
            sols[b] = solve(problem, b, time_limit=time_limit, **({} if b == "enumerate" else opts))
            bar.update()
        ref, kind = _reference(problem, sols, time_limit)
        for b, s in sols.items():
            gap = None
            if s.objective is not None and ref is not None:
                gap = (ref - s.objective) / max(abs(ref), 1e-12)
            records.append(SolveRecord(
                family=fam, instance=problem.name, backend=b, m=problem.num_nodes, choices=sum(problem.num_choices),
                ratio=problem.is_ratio, limits=len(problem.constraints), status=s.status, seconds=s.seconds,
                objective=s.objective, reference=ref, reference_kind=kind, gap=gap,
                agree=_agree(s.objective, ref, s.status, kind), nodes=s.nodes, reason=s.reason))
    bar.close()
    return records


def summarise(records: list[SolveRecord]) -> list[dict]:
    """One dict per (backend, family), in first-seen order."""
    groups: dict[tuple[str, str], list[SolveRecord]] = {}
    for r in records:
        groups.setdefault((r.backend, r.family), []).append(r)
    out = []
    for (b, f), rs in groups.items():
        timed = [r.seconds for r in rs if r.status != "unavailable"]
        gaps = [r.gap for r in rs if r.gap is not None]
        statuses = {}
        for r in rs:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        out.append({
            "backend": b, "family": f, "instances": len(rs),
            "optimal": statuses.get("optimal", 0),
            "agree": sum(r.agree for r in rs),
            "median_seconds": float(np.median(timed)) if timed else None,
            "max_seconds": float(max(timed)) if timed else None,
            "unavailable": statuses.get("unavailable", 0),
            "statuses": statuses,
            "max_gap": float(max(gaps)) if gaps else None,
        })
    return out


def format_table(summary: list[dict]) -> str:
    head = f"{'backend':10s} {'family':12s} {'inst':>4s} {'opt':>4s} {'agree':>5s} {'median':>10s} {'max':>10s} " \
           f"{'max gap':>9s} {'unavail':>7s} {'t-limit':>7s} {'infeas':>6s}"
    lines = [head, "-" * len(head)]

    def ms(v):
        return "-" if v is None else (f"{v * 1e3:.2f} ms" if v < 1 else f"{v:.2f} s")

    for s in summary:
        gap = "-" if s["max_gap"] is None else f"{s['max_gap']:.1e}"
        lines.append(f"{s['backend']:10s} {s['family']:12s} {s['instances']:4d} {s['optimal']:4d} {s['agree']:5d} "
                     f"{ms(s['median_seconds']):>10s} {ms(s['max_seconds']):>10s} {gap:>9s} {s['unavailable']:7d} "
                     f"{s['statuses'].get('time_limit', 0):7d} {s['statuses'].get('infeasible', 0):6d}")
    return "\n".join(lines)


def write_outputs(records: list[SolveRecord], out_dir) -> list[Path]:
    """CSV of every solve plus a solve-time-vs-size plot (PNG and SVG). Returns the paths written."""
    out = Path(out_dir)
    ensure_dir(out, "--out")
    csv_path = out / "solver_runs.csv"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(SolveRecord.__dataclass_fields__))
    w.writeheader()
    for r in records:
        w.writerow(asdict(r))
    atomic_write_bytes(csv_path, buf.getvalue().encode())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    runs = pd.DataFrame([asdict(r) for r in records if r.status != "unavailable"],
                        columns=list(SolveRecord.__dataclass_fields__))
    solver_time_vs_size(ax, runs, list(dict.fromkeys(runs["backend"])))
    ax.set_title("ILP backends: solve time vs size (x = not proven optimal)")
    fig.tight_layout()
    paths = [csv_path]
    for ext in ("png", "svg"):
        p = out / f"solver_scaling.{ext}"
        fig.savefig(p, dpi=120)
        paths.append(p)
    plt.close(fig)
    return paths


def jsonable(obj):
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj

