"""MathNAS as a harness method: profile blocks (fit), predict by Eq. 5, search by the Eq. 6/9 ILP."""
from __future__ import annotations

import numpy as np

from harness.errors import HarnessError
from harness.methods import SearchResult
from mathnas.blocks import BlockTables, OracleEvaluator, Profiler, SpaceSpec
from mathnas.ilp import build_problem, default_solver
from mathnas.variants import check_variant_params, get_variant, load_plugins, run_variant
from solvers import ChoiceProblem, get_backend, solve


def _as_bool(value, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise HarnessError(f"{name} must be true or false, got {value!r}")


class MathNAS:
    """Parameters (CLI: --variant, --solver, --param KEY=VALUE):

    variant        profiling variant from mathnas.variants.VARIANTS (single, full, sampled, or a plugin's)
    plugin         module name(s) or .py path(s) to import first (they register their own variants)
    base           base block per node: largest (default; ties: the later op), smallest, a choice name
                   such as nor_conv_1x1, a choice index, or a list of indices (Table 5 ablation)
    flops_scaling  Eq. 5 FLOPs-scaled accuracy (default) or the plain block sum (Table 5 ablation)
    base_net       `single`: average (N_avg, default) or random (seeded; Table 5 ablation)
    fraction       `sampled`: share of all networks evaluated (default 0.05)
    solver         ILP backend (default: the fastest exact one available); time_limit in seconds
    any other KEY=VALUE is handed to the variant (a plugin's own parameters).
    """

    def __init__(self, seed: int = 0, variant: str = "single", solver: str | None = None, base="largest",
                 flops_scaling=True, base_net: str | None = None, fraction: float | None = None,
                 time_limit: float = 60, plugin=None, **params):
        self.plugins = load_plugins(plugin)
        get_variant(variant)  # unknown names fail now, listing the valid ones
        if solver is not None:
            get_backend(solver)
        self.seed = int(seed)
        self.variant = variant
        self.solver = solver
        self.base = base
        self.flops_scaling = _as_bool(flops_scaling, "flops_scaling")
        self.variant_params = {k: v for k, v in (("base_net", base_net), ("fraction", fraction)) if v is not None}
        self.variant_params.update(params)
        check_variant_params(variant, self.variant_params)  # a typo fails before any evaluation
        try:
            self.time_limit = float(time_limit)
        except (TypeError, ValueError):
            raise HarnessError(f"time_limit must be a number of seconds, got {time_limit!r}") from None
        self.tables: BlockTables | None = None
        self.spec: SpaceSpec | None = None
        self._fitted_on = None

    # --- predictor ---------------------------------------------------------------------------------
    def fit(self, oracle, budget=None) -> "MathNAS":
        """Profile every block through the oracle (which counts and enforces the budget)."""
        self.spec = SpaceSpec.of(oracle.space, oracle.dataset)
        prof = Profiler(self.spec, OracleEvaluator(oracle), base=self.base, seed=self.seed)
        self.tables = run_variant(self.variant, prof, **self.variant_params)
        self._fitted_on = (oracle.dataset, oracle.device, id(oracle.space))
        return self

    def _require_fit(self) -> BlockTables:
        if self.tables is None:
            raise HarnessError("MathNAS: call fit(oracle, budget) before predict/problem")
        return self.tables

    def predict(self, codes) -> dict[str, np.ndarray]:
        return self._require_fit().predict(codes, flops_scaling=self.flops_scaling)

    # --- searcher ----------------------------------------------------------------------------------
    def problem(self, limits: dict[str, float] | None = None, name: str = "") -> ChoiceProblem:
        """The fitted tables as the MathNAS ILP (Eq. 6, Eq. 9 when the space has skippable nodes)."""
        return build_problem(self._require_fit(), self.spec, limits, flops_scaling=self.flops_scaling, name=name)

    def search(self, problem, oracle) -> SearchResult:
        """Solve the ILP built from the fitted tables (fitting first when they are for another oracle).

        A predicted-infeasible ILP returns code=None with status "infeasible": reported, never hidden."""
        if self.tables is None or self._fitted_on != (oracle.dataset, oracle.device, id(oracle.space)):
            self.fit(oracle, oracle.budget)
        ilp = self.problem(problem.limits, name=f"mathnas/{problem.dataset}/{problem.device}")
        backend = self.solver or default_solver(ilp)
        sol = solve(ilp, backend=backend, time_limit=self.time_limit)
        extra = {"status": sol.status, "solver": sol.backend, "solve_seconds": sol.seconds,
                 "predicted_objective": sol.objective, "gap": sol.gap, "variant": self.variant,
                 "flops_scaling": self.flops_scaling}
        if sol.reason:
            extra["reason"] = sol.reason
        if sol.status == "unavailable":
            raise HarnessError(f"solver {backend!r} is unavailable: {sol.reason or 'not installed or not licensed'}")
        if sol.code is None:
            return SearchResult(code=None, predicted={}, extra=extra)
        code = np.asarray(sol.code, dtype=np.int64).reshape(1, -1)
        predicted = {k: float(v[0]) for k, v in self.predict(code).items()}
        predicted["flops"] = float(self.spec.flops(code)[0])
        predicted["params"] = float(self.spec.params(code)[0])
        return SearchResult(code=code[0], predicted=predicted, extra=extra)
