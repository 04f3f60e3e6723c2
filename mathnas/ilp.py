"""MathNAS search as one `solvers.ChoiceProblem` (Eq. 6, 9-11).

With FLOPs scaling (Eq. 5/6) the predicted accuracy of code x is

    A_base - ref_flops * sum_i b[i][x_i] / F(x),   F(x) = const_flops + sum_i f[i][x_i]
  = (A_base * F(x) - ref_flops * sum_i b[i][x_i]) / F(x)

a ratio of two linear functions of the one-hot choice variables: the fractional program of Eq. 6,
which the MILP backends linearise (Charnes-Cooper, Eq. 10-11) or solve by Dinkelbach iterations.
Without FLOPs scaling the objective is linear. Limits are linear too: predicted latency/energy
(base value minus block sum) and exact FLOPs/params. Variable depth (Eq. 9) is `skip_from`.
"""
from __future__ import annotations

import numpy as np

from harness.errors import HarnessError
from harness.groundtruth import check_limits
from mathnas.blocks import BlockTables, SpaceSpec
from solvers import BACKENDS, ChoiceProblem, Constraint

NB201_DEVICES = ("fpga", "eyeriss", "raspi4", "pixel3", "gold_6226", "pi5-onnx")
NB201_DATASETS = ("cifar10", "cifar100")
NB201_QUANTILES = (0.25, 0.5, 0.75)
ENUMERATE_UP_TO = 1_000_000  # codes; below this enumeration is the fastest exact backend
MILP_PREFERENCE = ("highs", "cpsat", "gurobi", "cbc", "scip", "bnb")


def default_solver(problem: ChoiceProblem | None = None) -> str:
    """The fastest exact backend for `problem`: vectorised enumeration up to ENUMERATE_UP_TO codes
    (NAS-Bench-201 in about a millisecond, hundreds of times faster than any MILP solver there), else the
    first usable MILP backend of MILP_PREFERENCE, else enumeration."""
    import solvers

    if problem is not None and problem.size <= ENUMERATE_UP_TO and "enumerate" in BACKENDS:
        return "enumerate"
    status = getattr(solvers, "backend_status", None)
    for name in MILP_PREFERENCE:
        if name in BACKENDS and (status is None or status(name)[0]):
            return name
    return solvers.DEFAULT_BACKEND


def build_problem(tables: BlockTables, spec: SpaceSpec, limits: dict[str, float] | None = None,
                  flops_scaling: bool = True, skip_from: int | None = None, name: str = "") -> ChoiceProblem:
    """The MathNAS ILP: maximise predicted accuracy under the limits, exactly one choice per node.

    `skip_from` defaults to the space's own (Eq. 9); pass it explicitly to override."""
    limits = check_limits(limits)
    acc = tables.blocks["accuracy"]
    a_base = tables.base_value["accuracy"]
    f, f0 = spec.block_flops, float(spec.costs.const_flops)
    if flops_scaling:
        num = tuple(a_base * fi - tables.ref_flops * bi for fi, bi in zip(f, acc))
        objective = dict(num=num, num_const=a_base * f0, den=f, den_const=f0)
    else:
        objective = dict(num=tuple(-b for b in acc), num_const=a_base)
    constraints = []
    for metric, rhs in limits.items():
        if metric in ("latency", "energy"):
            if metric not in tables.blocks:
                raise HarnessError(f"MathNAS has no {metric} table for this device; it cannot enforce {metric} <= {rhs:g}")
            coeffs, const = tuple(-b for b in tables.blocks[metric]), tables.base_value[metric]
        elif metric == "flops":
            coeffs, const = f, f0
        else:
            coeffs = tuple(np.asarray(p, dtype=np.float64) for p in spec.costs.block_params)
            const = float(spec.costs.const_params)
        constraints.append(Constraint(metric, coeffs, float(rhs), float(const)))
    return ChoiceProblem(**objective, constraints=tuple(constraints),
                         skip_from=spec.skip_from if skip_from is None else skip_from, name=name)


def nb201_family(seed: int, data: str | None = None, variant: str = "single") -> list[ChoiceProblem]:
    """The MathNAS ILPs of NAS-Bench-201: cifar10/cifar100 x six devices x latency limits at the
    0.25/0.5/0.75 quantiles of the TRUE latency (pi5-onnx: energy limit at the same quantile too).

    Block tables are profiled once per (dataset, device) with `variant` and `seed` (36 problems)."""
    from harness.groundtruth import ground_truth
    from harness.oracle import Oracle
    from mathnas.method import MathNAS

    problems = []
    for dataset in NB201_DATASETS:
        for device in NB201_DEVICES:
            gt = ground_truth(dataset, device, data)
            method = MathNAS(seed=seed, variant=variant)
            method.fit(Oracle(gt), None)
            for q in NB201_QUANTILES:
                limits = {"latency": float(np.quantile(gt.latency, q))}
                if gt.energy is not None:
                    limits["energy"] = float(np.quantile(gt.energy, q))
                problems.append(method.problem(limits, name=f"mathnas-nb201/{dataset}/{device}/q{q:g}"))
    return problems
