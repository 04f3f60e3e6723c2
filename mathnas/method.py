"""MathNAS as a harness method: profile blocks (fit), predict by Eq. 5, search by the Eq. 6/9 ILP.

`repair=K` (not in the paper): after the ILP, the pick's TRUE latency/energy is measured through the
Oracle (a counted hardware query, charged as the suite's regime says); while it breaks a limit, the
violated predicted limit is tightened (scaled by limit / measured, and below the pick's own predicted
cost, so the same pick cannot return) and the ILP re-solved, at most K times. `repair=0` is the
method as published: its pick is returned unchecked. Repair measures only while the regime allows
(`oracle.hw_allowance`); a pick it could not check is returned unchecked, with `repair_stop` saying why.
Profiling that the budget or the hardware regime cannot pay for is one error line naming the variant.

On a space that publishes no per-choice FLOPs (NAS-Bench-Graph) Eq. 5 cannot scale by FLOPs: MathNAS falls
back to the plain block sum (the paper's own Table 5 ablation, `flops_scaling=false`) and says so in its
deviations, which `predict` and `search` print. Picks without a row (a space's `valid`) are cut off the ILP.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from core.errors import BudgetExhausted, HarnessError
from core.protocols import MethodBase, SearchResult
from core.validation import as_bool, check_float, check_int
from mathnas.blocks import BlockTables, OracleEvaluator, Profiler, SpaceSpec
from mathnas.ilp import build_problem
from core.registry import VARIANTS
from mathnas.variants import BASE_NETS, check_variant_params, get_variant, load_plugins, run_variant, sandboxed_host
from solvers import ChoiceProblem, Constraint, get_backend, solve

HARDWARE = ("latency", "energy")


class MathNAS(MethodBase):
    """Parameters (CLI: --variant, --solver, --param KEY=VALUE):

    variant        profiling variant (single, full, sampled, or a registered/plugin one)
    plugin         module name(s) or .py path(s) to import first (they register their own variants)
    base           base block per node: largest (default; ties: the later op), smallest, a choice name
                   such as nor_conv_1x1, a choice index, or a list of indices (Table 5 ablation)
    flops_scaling  Eq. 5 FLOPs-scaled accuracy (default) or the plain block sum (Table 5 ablation)
    base_net       `single`: average (N_avg, default) or random (seeded; Table 5 ablation)
    fraction       `sampled`: share of all networks evaluated (default 0.05)
    solver         ILP backend (default: the fastest exact one available); time_limit in seconds
    repair         re-solves after checking the pick's true cost (0 = as published)
    variant_options  any other KEY=VALUE, handed to the variant (a plugin's own parameters)
    """

    name = "mathnas"
    extra_params = "variant_options"

    def __init__(self, seed: int = 0, variant: str = "single", solver: str | None = None, base="largest",
                 flops_scaling=True, base_net: str | None = None, fraction: float | None = None,
                 time_limit: float = 60, plugin=None, repair: int = 0, variant_options: dict | None = None):
        self.plugin = plugin
        self.plugins = load_plugins(plugin)
        deferred = plugin is not None and sandboxed_host() and variant not in VARIANTS
        if not deferred:
            get_variant(variant)  # unknown names fail now, listing the valid ones (in the container when sandboxed)
        if solver is not None:
            get_backend(solver)
        self.seed = check_int("seed", seed, 0)
        self.variant = variant
        self.solver = solver
        self.base = base
        self.flops_scaling = as_bool(flops_scaling, "flops_scaling")
        if base_net is not None and base_net not in BASE_NETS:
            raise HarnessError(f"base_net must be one of {', '.join(BASE_NETS)}, got {base_net!r}")
        if fraction is not None:
            check_float("fraction", fraction, 0.0, 1.0, low_open=True)
        self.base_net, self.fraction = base_net, fraction
        self.variant_options = dict(variant_options or {})
        self.variant_params = {k: v for k, v in (("base_net", base_net), ("fraction", fraction)) if v is not None}
        self.variant_params.update(self.variant_options)
        if not deferred:
            check_variant_params(variant, self.variant_params)  # a typo fails before any evaluation
        self.time_limit = check_float("time_limit", time_limit, 0.0, low_open=True)
        self.repair = check_int("repair", repair, 0)
        self.tables: BlockTables | None = None
        self.spec: SpaceSpec | None = None
        self._fitted_on = None

    @property
    def scaling(self) -> bool:
        """Whether Eq. 5 scales by FLOPs: asked for, and the fitted space has FLOPs."""
        return self.flops_scaling and (self.spec is None or self.spec.has_flops)

    def deviations(self) -> list[str]:
        out = [f"repair: {self.repair} re-solves after checking the pick's true cost (published: none)"] \
            if self.repair else []
        if not self.flops_scaling:
            out.append("flops_scaling: false, plain block sum (published: Eq. 5 FLOPs scaling; Table 5 ablation)")
        elif not self.scaling:
            out.append(f"flops_scaling: off, space {self.spec.name!r} publishes no per-choice FLOPs, so Eq. 5 is the "
                       "plain block sum (published: FLOPs-scaled)")
        if self.base != "largest":
            out.append(f"base: {self.base} (published: largest; Table 5 ablation)")
        if self.base_net not in (None, "average"):
            out.append(f"base_net: {self.base_net} (published: average, N_avg; Table 5 ablation)")
        return out

    # --- predictor ---------------------------------------------------------------------------------
    def fit(self, oracle) -> "MathNAS":
        """Profile every block through the oracle (which counts and enforces the budget)."""
        self.spec = SpaceSpec.of(oracle.space, oracle.dataset, proxy_ok=not oracle.has("accuracy"))
        prof = Profiler(self.spec, OracleEvaluator(oracle), base=self.base, seed=self.seed)
        try:
            self.tables = run_variant(self.variant, prof, **self.variant_params)
        except BudgetExhausted as e:
            raise BudgetExhausted(f"mathnas (variant {self.variant}) cannot profile within the budget "
                                  f"({oracle.regime} hardware regime): {e}") from None
        self._fitted_on = id(oracle)
        return self

    def _require_fit(self) -> BlockTables:
        if self.tables is None:
            raise HarnessError("MathNAS: call fit(oracle) before predict/problem")
        return self.tables

    def predict(self, codes) -> dict[str, np.ndarray]:
        return self._require_fit().predict(codes, flops_scaling=self.scaling)

    # --- searcher ----------------------------------------------------------------------------------
    def problem(self, limits: dict[str, float] | None = None, name: str = "") -> ChoiceProblem:
        """The fitted tables as the MathNAS ILP (Eq. 6, Eq. 9 when the space has skippable nodes)."""
        tables = self._require_fit()
        if "accuracy" not in tables.blocks:
            raise HarnessError(f"MathNAS searches for the most accurate network; space {self.spec.name!r} has no "
                               f"accuracy (its tables predict {', '.join(tables.metrics)} only)")
        return build_problem(tables, self.spec, limits, flops_scaling=self.scaling, name=name)

    def _solve(self, ilp: ChoiceProblem):
        sol = solve(ilp, backend=self.solver, time_limit=self.time_limit, valid=self.spec.valid)
        if sol.status == "unavailable":
            raise HarnessError(f"solver {sol.backend!r} is unavailable: {sol.reason or 'not installed or not licensed'}")
        return sol

    def search(self, problem, oracle) -> SearchResult:
        """Solve the ILP built from the fitted tables (fitting first when they are for another oracle).

        A predicted-infeasible ILP returns code=None with status "infeasible": reported, never hidden."""
        if self.tables is None or self._fitted_on != id(oracle):
            self.fit(oracle)
        ilp = self.problem(problem.limits, name=f"mathnas/{problem.dataset}/{problem.device}")
        sol = self._solve(ilp)
        extra = {"status": sol.status, "solver": sol.backend, "solve_seconds": sol.seconds,
                 "predicted_objective": sol.objective, "gap": sol.gap, "variant": self.variant,
                 "flops_scaling": self.scaling}
        if self.spec.valid is not None:
            extra["invalid_cut"] = sol.extra.get("cuts", 0)   # picks without a row, cut off the ILP
        checked = {m: v for m, v in problem.limits.items() if m in HARDWARE}
        repairs = 0
        while sol.code is not None and self.repair and checked:
            code = np.asarray(sol.code, dtype=np.int64).reshape(1, -1)
            if not oracle.hw_measured(code)[0] and oracle.hw_allowance() == 0:
                extra["repair_stop"] = "hardware budget"
                break
            true = {m: float(oracle.hardware(m, code)[0]) for m in checked}
            violated = {m: v for m, v in true.items() if not v <= checked[m]}
            if not violated:
                oracle.incumbent(code[0])
                extra["verified"] = True
                break
            if repairs == self.repair:
                extra["verified"] = False
                break
            repairs += 1
            ilp = _tighten(ilp, code, violated, checked)
            sol = self._solve(ilp)
            extra.update(status=sol.status, solve_seconds=extra["solve_seconds"] + sol.seconds)
        if self.repair:
            extra["repairs"] = repairs
        if sol.reason:
            extra["reason"] = sol.reason
        if sol.code is None:
            return SearchResult(code=None, predicted={}, extra=extra)
        code = np.asarray(sol.code, dtype=np.int64).reshape(1, -1)
        oracle.incumbent(code[0])
        predicted = {k: float(v[0]) for k, v in self.predict(code).items()}
        if self.spec.has_flops:
            predicted["flops"] = float(self.spec.flops(code)[0])
            predicted["params"] = float(self.spec.params(code)[0])
        return SearchResult(code=code[0], predicted=predicted, extra=extra)


def _tighten(ilp: ChoiceProblem, code, violated: dict[str, float], limits: dict[str, float]) -> ChoiceProblem:
    """The ILP with each violated predicted limit scaled by limit / measured and put below the pick's own
    predicted cost (so that pick is cut off)."""
    resources = ilp.resources(code)
    cons = []
    for c in ilp.constraints:
        if c.name in violated:
            predicted = float(resources[c.name][0])
            rhs = min(c.rhs * limits[c.name] / violated[c.name], predicted - 1e-9 * max(1.0, abs(predicted)))
            c = Constraint(c.name, c.coeffs, rhs, c.const)
        cons.append(c)
    return replace(ilp, constraints=tuple(cons))
