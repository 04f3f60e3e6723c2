"""MathNAS search as one `solvers.ChoiceProblem` (Eq. 6, 9-11).

With FLOPs scaling (Eq. 5/6) the predicted accuracy of code x is

    A_base - ref_flops * sum_i b[i][x_i] / F(x),   F(x) = const_flops + sum_i f[i][x_i]
  = (A_base * F(x) - ref_flops * sum_i b[i][x_i]) / F(x)

a ratio of two linear functions of the one-hot choice variables: the fractional program of Eq. 6,
which the MILP backends linearise (Charnes-Cooper, Eq. 10-11) or solve by Dinkelbach iterations.
Without FLOPs scaling the objective is linear (the only choice on a space without exact FLOPs). Limits are
linear too: predicted latency/energy (base value minus block sum) and exact FLOPs/params. Variable depth
(Eq. 9) is the space's skip groups (`SpaceSpec.skip_groups`/`skip_choice`; `skip_from` the shorthand), so
only codes the space trains are feasible (NAS-Bench-Macro: identities at the end of their stage).
"""
from __future__ import annotations

import numpy as np

from core.errors import HarnessError
from core.validation import check_limits
from mathnas.blocks import NO_FLOPS, BlockTables, SpaceSpec
from solvers import ChoiceProblem, Constraint


def build_problem(tables: BlockTables, spec: SpaceSpec, limits: dict[str, float] | None = None,
                  flops_scaling: bool = True, skip_from: int | None = None, name: str = "") -> ChoiceProblem:
    """The MathNAS ILP: maximise predicted accuracy under the limits, exactly one choice per node.

    Eq. 9 comes from the space (`spec.skip_groups`); an explicit `skip_from` overrides it."""
    limits = check_limits(limits)
    acc = tables.blocks["accuracy"]
    a_base = tables.base_value["accuracy"]
    if flops_scaling:
        if not spec.has_flops:
            raise HarnessError(f"MathNAS on space {spec.name!r}: {NO_FLOPS}")
        f, f0 = spec.block_flops, float(spec.costs.const_flops)
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
        elif not spec.has_flops:
            raise HarnessError(f"MathNAS on space {spec.name!r}: no exact {metric} per choice, so it cannot enforce "
                               f"{metric} <= {rhs:g}")
        elif metric == "flops":
            coeffs, const = spec.block_flops, float(spec.costs.const_flops)
        else:
            coeffs = tuple(np.asarray(p, dtype=np.float64) for p in spec.costs.block_params)
            const = float(spec.costs.const_params)
        constraints.append(Constraint(metric, coeffs, float(rhs), float(const)))
    if skip_from is not None or spec.skip_from is not None:   # the shorthand stays visible on the problem
        skips = dict(skip_from=spec.skip_from if skip_from is None else skip_from)
    else:
        skips = dict(skip_groups=spec.skip_groups, skip_choice=spec.skip_choice)
    return ChoiceProblem(**objective, constraints=tuple(constraints), name=name, **skips)
