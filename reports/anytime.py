"""Anytime evaluation from the trajectories the search rows store: regret at equal budgets, regret curves
with 95% bands over seeds, the area under the regret curve, and the per-task values ranked across tasks.

A trajectory has one entry per new evaluation (evaluations k, hardware measurements, the searcher's
incumbent then, its true score-split accuracy and true feasibility). At a budget b a run is worth its
incumbent after min(b, what it spent) evaluations:

- which run: of a method's runs on one task and seed, the one planned for b (budget == b), else the one
  with the smallest budget above b; a run without a budget (its "own cost", e.g. MathNAS's variants, ‡)
  counts wherever it finished within b and is blank where it had not;
- a budget none of its runs was allowed to reach is blank;
- a run that stopped earlier (out of hardware, space exhausted, a one-shot method) keeps its final answer;
- the regret of a feasible incumbent is optimum - its accuracy; the PENALISED regret also covers the rest:
  an infeasible incumbent, or none yet, is as bad as the worst feasible architecture (optimum - floor).
Tables show the regret of feasible answers (tasks averaged per seed, 95% bootstrap CI over seeds) and the
share of feasible answers; ranks, curves and areas use the penalised regret, so an infeasible answer is
never better than a feasible one.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from core.metrics import summarize
from reports.tables import Board, _order, hardware_caption, ok_rows

EQUAL_BUDGETS = (10, 26, 50, 100, 200, 400)
TASK = ("space", "dataset", "device", "limit_label")
OWN = "‡"
FOOTER = (f"Blank: a budget the method was not run to. {OWN}: the method ran at its own cost (no budget); it "
          "counts where it had finished. Cells: regret of feasible answers, 95% bootstrap CI over seeds (tasks "
          "averaged per seed), and the share of feasible answers (none yet counts as infeasible).")


def _trajectory(text) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(evaluations, accuracy of the incumbent or NaN, its feasibility) of one stored trajectory."""
    entries = json.loads(text) if isinstance(text, str) else (text or [])
    k = np.array([e["evaluations"] for e in entries], dtype=np.int64)
    acc = np.array([np.nan if e.get("true_accuracy") is None else e["true_accuracy"] for e in entries], dtype=float)
    feas = np.array([bool(e.get("feasible")) for e in entries], dtype=bool)
    return k, acc, feas


def runs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per finished search cell that stored a trajectory, with it parsed."""
    rows = ok_rows(frame, "search")
    if rows.empty or "trajectory" not in rows:
        return pd.DataFrame()
    rows = rows[rows["trajectory"].notna()]
    if rows.empty:
        return pd.DataFrame()

    def col(name, default):
        return rows[name].fillna(default) if name in rows else pd.Series(default, index=rows.index)

    out = pd.DataFrame({
        "regime": col("regime", "free"), "space": col("space", "nb201"), "dataset": rows["dataset"],
        "device": rows["device"], "limit_label": col("limit_label", ""), "label": rows["label"].astype(str),
        "seed": rows["seed"].astype(int), "budget": pd.to_numeric(col("budget", np.nan), errors="coerce"),
        "queries": pd.to_numeric(rows["queries"], errors="coerce"),
        "optimum": pd.to_numeric(rows["optimum_accuracy"], errors="coerce"),
        "floor": pd.to_numeric(col("floor_accuracy", np.nan), errors="coerce"),
        "noise": pd.to_numeric(col("noise.seed_regret", np.nan), errors="coerce"),
    })
    out["traj"] = [_trajectory(t) for t in rows["trajectory"]]
    return out.reset_index(drop=True)


KEYS = ["regime", *TASK, "label", "seed"]


def _groups(r: pd.DataFrame) -> dict[tuple, list[dict]]:
    """The runs of each (regime, task, method, seed) as plain records (picking among a few is then cheap)."""
    out: dict[tuple, list[dict]] = {}
    for rec in r.to_dict("records"):
        out.setdefault(tuple(rec[k] for k in KEYS), []).append(rec)
    return out


def _pick(group: list[dict], b: int):
    """The run of one (task, method, seed) that stands for budget b (see the module docstring), else None."""
    bounded = sorted((g for g in group if not math.isnan(g["budget"])), key=lambda g: g["budget"])
    for g in bounded:
        if g["budget"] == b:
            return g, False
    for g in bounded:
        if g["budget"] > b:
            return g, False
    for g in group:
        if math.isnan(g["budget"]) and g["queries"] <= b:
            return g, True
    return None, False


def _value(run, b: int) -> tuple[float, float, bool]:
    """(regret of a feasible incumbent else NaN, penalised regret, feasible) of `run` after b evaluations."""
    k, acc, feas = run["traj"]
    i = int(np.searchsorted(k, b, side="right")) - 1
    worst = run["optimum"] - run["floor"]
    if i < 0 or math.isnan(acc[i]) or not feas[i]:
        return math.nan, worst, False
    regret = run["optimum"] - acc[i]
    return regret, regret, True


def planned_budgets(r: pd.DataFrame) -> list[int]:
    """The equal budgets the runs were planned for (all of EQUAL_BUDGETS up to the largest when none was)."""
    if r.empty:
        return []
    planned = sorted({int(b) for b in r["budget"].dropna()} & set(EQUAL_BUDGETS))
    return planned or [b for b in EQUAL_BUDGETS if b <= max(1, int(r["queries"].max()))]


def at_budgets(frame: pd.DataFrame, budgets=EQUAL_BUDGETS, r: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (regime, task, method, seed, budget) a method reached: regret, penalised, feasible, own."""
    r = runs(frame) if r is None else r
    if r.empty:
        return pd.DataFrame()
    recs = []
    for key, g in _groups(r).items():
        for b in budgets:
            run, own = _pick(g, b)
            if run is None:
                continue
            regret, pen, ok = _value(run, b)
            recs.append(dict(zip(KEYS, key), budget=b, regret=regret, penalised=pen, feasible=ok, own=own,
                             evaluations=int(min(b, run["queries"])), noise=run["noise"]))
    return pd.DataFrame(recs)


def _per_seed(values: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean over tasks per (regime, method, budget, seed), NaNs left out (feasible answers only)."""
    return values.groupby(["regime", "label", "budget", "seed"], sort=False)[column].mean().reset_index()


def _cells(values: pd.DataFrame, column_of) -> tuple[dict, dict]:
    """Board cells (regret summaries over seeds) and annotations (feasible share) keyed by (row, column)."""
    cells, annot = {}, {}
    if values.empty:
        return cells, annot
    per_seed = _per_seed(values, "regret")
    rate = values.groupby(["regime", "label", "budget"], sort=False)["feasible"].mean()
    for (regime, label, b), g in per_seed.groupby(["regime", "label", "budget"], sort=False):
        c = column_of(regime, b)
        cells[(label, c)] = summarize(g["regret"].to_numpy())
        annot[(label, c)] = f" ({100 * rate[(regime, label, b)]:.0f}%)"
    return cells, annot


def _row_names(values: pd.DataFrame) -> dict[str, str]:
    if values.empty:
        return {}
    own = set(values.loc[values["own"], "label"])
    return {lab: f"{lab} {OWN}" if lab in own else lab for lab in values["label"].unique()}


def _rename(cells: dict, names: dict) -> dict:
    return {(names.get(r, r), c): v for (r, c), v in cells.items()}


def _noise(board: Board, values: pd.DataFrame, column_of) -> None:
    """The seed-noise floor of the tasks (same at every budget), where the space has seeds."""
    if "noise" not in values or values["noise"].isna().all():
        return
    label = "pick by one seed (noise floor)"
    for (regime, b), g in values.groupby(["regime", "budget"]):
        task = g.drop_duplicates(subset=list(TASK))["noise"].dropna()
        if len(task):
            board.cells[(label, column_of(regime, b))] = {**summarize(task.to_numpy()), "n": 1}
    board.rows.append(label)
    board.reference.append(label)


def _task_key(f: pd.DataFrame) -> pd.Series:
    return f[list(TASK)].astype(str).agg("/".join, axis=1)


def common_tasks(r: pd.DataFrame) -> set[str]:
    """The tasks every method of these runs ran on."""
    keyed = r.assign(_t=_task_key(r))
    sets = [set(g["_t"]) for _, g in keyed.groupby("label")]
    return set.intersection(*sets) if sets else set()


def equal_budget_boards(frame: pd.DataFrame, r: pd.DataFrame | None = None) -> list[Board]:
    """Per regime: regret at the equal budgets (columns), every method a row, own-cost runs marked; and, when
    some method ran on fewer tasks than the others, the same on the tasks every method ran (like with like)."""
    r = runs(frame) if r is None else r
    out = []
    if r.empty:
        return out
    for regime in _order_regimes(r["regime"]):
        rr = r[r["regime"] == regime]
        sfx = "" if regime == "free" else f"-{regime}"
        out.append(_equal_budget_board(frame, rr, f"anytime-regret{sfx}", f"Regret at equal budgets (evaluations), "
                                       f"lower is better [{hardware_caption(regime)}]"))
        common = common_tasks(rr)
        n_all = _task_key(rr).nunique()
        if common and len(common) < n_all:
            sub = rr[_task_key(rr).isin(common)]
            out.append(_equal_budget_board(frame, sub, f"anytime-regret-common{sfx}", f"Regret at equal budgets on "
                                           f"the {len(common)} task(s) every method ran (of {n_all}), lower is better "
                                           f"[{hardware_caption(regime)}]"))
    return out


def _equal_budget_board(frame: pd.DataFrame, r: pd.DataFrame, name: str, title: str) -> Board:
    v = at_budgets(frame, r=r)
    names = _row_names(v)
    cells, annot = _cells(v, lambda reg, b: f"@{b}")
    own = _own_cost(r)
    cells.update(own[0])
    annot.update(own[1])
    bounded = r.loc[r["budget"].notna(), "budget"]
    top = bounded.max() if len(bounded) else max(EQUAL_BUDGETS)   # own-cost runs add no columns of their own
    columns = [f"@{b}" for b in EQUAL_BUDGETS if b <= top and not v.empty and (v["budget"] == b).any()] + \
        (["own cost"] if own[0] else [])
    rows = _order(list(names.values()) + [lab for lab, _ in own[0]])
    keyed = r.assign(_t=_task_key(r))
    tasks = {names.get(lab, f"{lab} {OWN}" if g["budget"].isna().all() else lab): str(g["_t"].nunique())
             for lab, g in keyed.groupby("label")}
    board = Board(name, title, False, _rename(cells, names), rows, columns,
                  note="tasks = space x dataset x device x limit, averaged per seed; a row on fewer tasks than the "
                       "others is never bold", digits=2, annot=_rename(annot, names), blank=True, footer=FOOTER,
                  extra={"tasks": tasks}, reference=_fewer(tasks))
    _noise(board, v, lambda reg, b: f"@{b}")
    return board


def _fewer(tasks: dict[str, str]) -> list[str]:
    """Rows averaging fewer tasks than the most covered one: not comparable, so never marked best."""
    most = max((int(n) for n in tasks.values()), default=0)
    return [lab for lab, n in tasks.items() if int(n) < most]


def _own_cost(r: pd.DataFrame) -> tuple[dict, dict]:
    """The final answer of every run without a budget: regret summary and (feasible share, evaluations)."""
    cells, annot = {}, {}
    own = r[r["budget"].isna()]
    if own.empty:
        return cells, annot
    recs = []
    for run in own.to_dict("records"):
        regret, _, ok = _value(run, int(run["queries"]))
        recs.append({"label": f"{run['label']} {OWN}", "seed": run["seed"], "regret": regret, "feasible": ok,
                     "q": run["queries"]})
    f = pd.DataFrame(recs)
    for label, g in f.groupby("label"):
        cells[(label, "own cost")] = summarize(g.groupby("seed")["regret"].mean().to_numpy())
        annot[(label, "own cost")] = f" ({100 * g['feasible'].mean():.0f}%, {g['q'].mean():,.0f} evals)"
    return cells, annot


def headline_board(frame: pd.DataFrame, r: pd.DataFrame | None = None) -> Board | None:
    """Every regime side by side at the budgets the suite planned: the board the CLI prints."""
    r = runs(frame) if r is None else r
    budgets = planned_budgets(r)
    values = at_budgets(frame, budgets, r=r)
    if values.empty:
        return None
    names = _row_names(values)
    cells, annot = _cells(values, lambda reg, b: f"{reg} @{b}")
    columns = [f"{reg} @{b}" for reg in _order_regimes(values["regime"]) for b in budgets
               if ((values["regime"] == reg) & (values["budget"] == b)).any()]
    tasks = {names[lab]: str(g[list(TASK)].drop_duplicates().shape[0]) for lab, g in values.groupby("label")}
    return Board("headline", "Search regret at equal budgets per hardware regime (lower is better)", False,
                 _rename(cells, names), _order(names.values()), columns,
                 note="columns: hardware regime @ evaluations; 'tasks': how many tasks a row averages (see the "
                      "like-for-like boards for methods run on fewer; such rows are never bold)", digits=2,
                 annot=_rename(annot, names), blank=True, footer=FOOTER, extra={"tasks": tasks},
                 reference=_fewer(tasks))


def _order_regimes(values) -> list[str]:
    found = list(dict.fromkeys(values))
    return [x for x in ("free", "charged", "blind") if x in found] + sorted(set(found) - {"free", "charged", "blind"})


# --- curves and areas ----------------------------------------------------------------------------------
def _curve(run, horizon: int) -> np.ndarray:
    """Penalised regret after 1..horizon evaluations (a run that stopped keeps its final answer)."""
    k, acc, feas = run["traj"]
    x = np.arange(1, horizon + 1)
    i = np.searchsorted(k, x, side="right") - 1
    worst = run["optimum"] - run["floor"]
    out = np.full(horizon, worst, dtype=float)
    ok = i >= 0
    good = np.zeros(horizon, dtype=bool)
    good[ok] = feas[i[ok]] & ~np.isnan(acc[i[ok]])
    out[good] = run["optimum"] - acc[i[good]]
    return out


def curves(r: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Per (regime, task, method, seed): the penalised regret curve of the run standing for `horizon`."""
    recs = []
    for key, g in _groups(r).items():
        run, own = _pick(g, horizon)
        if run is None:
            continue
        recs.append(dict(zip(KEYS, key), own=own, curve=_curve(run, horizon)))
    return pd.DataFrame(recs)


def horizon_of(r: pd.DataFrame) -> int | None:
    planned = planned_budgets(r)
    return max(planned) if planned else None


def band(matrix: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over rows (seeds) and its t-interval at every column (one bootstrap per point would be slow)."""
    n = matrix.shape[0]
    mean = matrix.mean(axis=0)
    if n < 2:
        return mean, mean, mean
    half = sps.t.ppf(0.5 + confidence / 2, n - 1) * matrix.std(axis=0, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def aurc_board(r: pd.DataFrame) -> list[Board]:
    """Per regime: the mean penalised regret over the first H evaluations (area under the curve / H)."""
    horizon = horizon_of(r)
    if horizon is None:
        return []
    c = curves(r, horizon)
    out = []
    if c.empty:
        return out
    c = c.assign(area=[float(np.mean(x)) for x in c["curve"]])
    for regime in _order_regimes(c["regime"]):
        g = c[c["regime"] == regime]
        names = {lab: f"{lab} {OWN}" if g.loc[g["label"] == lab, "own"].any() else lab for lab in g["label"].unique()}
        per_seed = g.groupby(["label", "seed"])["area"].mean().reset_index()
        cells = {(names[lab], f"AURC @{horizon}"): summarize(s["area"].to_numpy()) for lab, s in per_seed.groupby("label")}
        sfx = "" if regime == "free" else f"-{regime}"
        out.append(Board(f"anytime-aurc{sfx}", f"Area under the regret curve: mean penalised regret over the first "
                         f"{horizon} evaluations (lower is better) [{hardware_caption(regime)}]", False, cells,
                         _order(names.values()), [f"AURC @{horizon}"], digits=2,
                         note="infeasible or no answer yet = the worst feasible architecture; tasks averaged per seed, "
                              "95% bootstrap CI over seeds"))
    return out


def curve_figures(r: pd.DataFrame, out) -> list:
    """One figure per (regime, space, dataset): mean penalised regret vs evaluations with 95% bands over seeds."""
    from reports.figures import _grid, _save

    horizon = horizon_of(r)
    if horizon is None:
        return []
    c = curves(r, horizon)
    if c.empty:
        return []
    figs = []
    x = np.arange(1, horizon + 1)
    colours = {lab: f"C{i % 10}" for i, lab in enumerate(_order(c["label"]))}   # one colour per method everywhere
    for regime in _order_regimes(c["regime"]):
        g = c[c["regime"] == regime]
        groups = list(g.groupby(["space", "dataset"], sort=True))
        fig, axes = _grid(len(groups), 3.6, 3.0)
        handles = {}
        for ax, ((space, dataset), sub) in zip(axes, groups):
            for lab in _order(sub["label"]):
                s = sub[sub["label"] == lab]
                per_seed = np.stack([np.mean(np.stack(t["curve"].to_list()), axis=0) for _, t in s.groupby("seed")])
                mean, lo, hi = band(per_seed)
                h = ax.plot(x, mean, color=colours[lab], lw=1.1, label=lab + (f" {OWN}" if s["own"].any() else ""))
                ax.fill_between(x, np.maximum(lo, 0.0), hi, color=colours[lab], alpha=0.15, linewidth=0)
                handles.setdefault(h[0].get_label(), h[0])
            ax.set_yscale("symlog", linthresh=1.0)   # log above 1 point, linear below: the bands may cross 0
            ax.set_xlabel("evaluations (distinct architectures)")
            ax.set_ylabel("regret, points (penalised)")
            ax.set_title(f"{dataset}" if space == "nb201" else f"{space}/{dataset}", fontsize=8)
        fig.tight_layout()
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(handles), 4), fontsize=7,
                   bbox_to_anchor=(0.5, 1.0))
        figs.append(_save(fig, out, f"anytime-regret-{regime}",
                          f"Regret vs evaluations [{hardware_caption(regime)}]: mean over devices and limits per "
                          f"seed, 95% t-band over seeds; infeasible or no answer yet = worst feasible architecture"))
    return figs


# --- values for the statistics across tasks and the regression gate -------------------------------------
def task_values(values: pd.DataFrame) -> dict:
    """(regime, budget) -> long frame (task, method, value = penalised regret averaged over seeds), keeping only
    methods that reached the budget on every task of that regime (the tests need complete blocks)."""
    out = {}
    if values.empty:
        return out
    v = values.assign(task=values[list(TASK)].astype(str).agg("/".join, axis=1))
    for (regime, b), g in v.groupby(["regime", "budget"], sort=False):
        mean = g.groupby(["task", "label"])["penalised"].mean().reset_index()
        n_tasks = mean["task"].nunique()
        complete = mean.groupby("label")["task"].nunique()
        keep = set(complete[complete == n_tasks].index)
        frame = mean[mean["label"].isin(keep)].rename(columns={"label": "method", "penalised": "value"})
        dropped = sorted(set(complete.index) - keep)
        out[(regime, int(b))] = (frame[["task", "method", "value"]].reset_index(drop=True), dropped)
    return out
