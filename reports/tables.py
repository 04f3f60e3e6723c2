"""Leaderboards from a result store: mean and 95% bootstrap CI over seeds, best in bold.

One `Board` = rows (methods, or solver backends) x columns (datasets / devices / families), every cell a
`core.metrics.summarize` over seeds. Rendered as Markdown, LaTeX (booktabs), CSV and HTML.
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.metrics import summarize

PREDICT_METRICS = ("accuracy", "latency", "energy")


@dataclass
class Board:
    name: str  # file stem
    title: str
    higher_is_better: bool
    cells: dict  # (row, column) -> summarize() dict
    rows: list[str]
    columns: list[str]
    note: str = ""
    digits: int = 3
    extra: dict = field(default_factory=dict)  # column -> {row: text}: plain columns after the summaries
    row_header: str = "method"
    annot: dict = field(default_factory=dict)  # (row, column) -> text after the summary, e.g. " (80%)"
    blank: bool = False                        # a missing cell is blank (never reached), not "—"
    footer: str = ""                           # a line under the table (markers, definitions)
    reference: list = field(default_factory=list)  # rows that are not methods (noise ceilings): never bold

    def best(self) -> dict[str, str]:
        """column -> row with the best mean (ties: all of them are bold)."""
        out = {}
        for c in self.columns:
            means = {r: self.cells[(r, c)]["mean"] for r in self.rows if (r, c) in self.cells
                     and r not in self.reference and not math.isnan(self.cells[(r, c)]["mean"])}
            if means:
                target = max(means.values()) if self.higher_is_better else min(means.values())
                out[c] = {r for r, m in means.items() if round(m, self.digits) == round(target, self.digits)}
        return out

    def fmt(self, s: dict, ci: bool = True) -> str:
        if s is None or math.isnan(s["mean"]):
            return "—"
        d = self.digits
        text = f"{s['mean']:.{d}f}"
        if ci and s["n"] > 1:
            text += f" [{s['ci_low']:.{d}f}, {s['ci_high']:.{d}f}]"
        return text

    def text(self, r, c) -> str:
        """A cell as plain text: the summary and its annotation; blank when absent on a `blank` board."""
        if (r, c) not in self.cells and (self.blank or (r, c) not in self.annot):
            return "" if self.blank else "—"
        s = self.cells.get((r, c))
        return (self.fmt(s) if s is not None else "—") + self.annot.get((r, c), "")

    # renderers ---------------------------------------------------------------------------------------
    def markdown(self) -> str:
        best = self.best()
        head = [self.row_header] + self.columns + list(self.extra)
        lines = [f"**{self.title}**" + (f" ({self.note})" if self.note else ""), "",
                 "| " + " | ".join(head) + " |", "|" + "|".join([":--"] + ["--:"] * (len(head) - 1)) + "|"]
        for r in self.rows:
            cells = []
            for c in self.columns:
                text = self.text(r, c)
                cells.append(f"**{text}**" if r in best.get(c, ()) else text)
            cells += [self.extra[e].get(r, "—") for e in self.extra]
            lines.append("| " + " | ".join([r] + cells) + " |")
        if self.footer:
            lines += ["", self.footer]
        return "\n".join(lines)

    def latex(self) -> str:
        best = self.best()

        def esc(t: str) -> str:
            for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"),
                         ("<=", r"$\leq$"), ("~", r"\textasciitilde{}")):
                t = t.replace(a, b)
            return t

        def cell(r, c):
            s = self.cells.get((r, c))
            note = esc(self.annot.get((r, c), ""))
            if s is None or math.isnan(s["mean"]):
                return "" if self.blank and s is None and not note else "--" + note
            d = self.digits
            mean = f"{s['mean']:.{d}f}"
            mean = rf"\textbf{{{mean}}}" if r in best.get(c, ()) else mean
            if s["n"] > 1:
                mean += rf" {{\scriptsize[{s['ci_low']:.{d}f}, {s['ci_high']:.{d}f}]}}"
            return mean + note

        head = [self.row_header] + self.columns + list(self.extra)
        lines = [r"% " + esc(self.title), r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}", r"\toprule",
                 " & ".join(esc(h) for h in head) + r" \\", r"\midrule"]
        for r in self.rows:
            cells = [cell(r, c) for c in self.columns] + [esc(self.extra[e].get(r, "--")) for e in self.extra]
            lines.append(" & ".join([esc(r)] + cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        if self.footer:
            lines.append(r"% " + esc(self.footer))
        return "\n".join(lines) + "\n"

    def long_frame(self) -> pd.DataFrame:
        recs = [{"board": self.name, "row": r, "column": c, **self.cells[(r, c)]}
                for r in self.rows for c in self.columns if (r, c) in self.cells]
        return pd.DataFrame(recs, columns=["board", "row", "column", "mean", "std", "ci_low", "ci_high", "n"])

    def html(self) -> str:
        best = self.best()
        head = [self.row_header] + self.columns + list(self.extra)
        out = [f"<h3>{html.escape(self.title)}</h3>"]
        if self.note:
            out.append(f"<p class='note'>{html.escape(self.note)}</p>")
        out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>")
        for r in self.rows:
            tds = [f"<th>{html.escape(r)}</th>"]
            for c in self.columns:
                text = html.escape(self.text(r, c))
                tds.append(f"<td><b>{text}</b></td>" if r in best.get(c, ()) else f"<td>{text}</td>")
            tds += [f"<td>{html.escape(self.extra[e].get(r, '—'))}</td>" for e in self.extra]
            out.append("<tr>" + "".join(tds) + "</tr>")
        out.append("</tbody></table>")
        if self.footer:
            out.append(f"<p class='note'>{html.escape(self.footer)}</p>")
        return "\n".join(out)


# --- from store rows to boards -----------------------------------------------------------------------------
def ok_rows(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    if "task" not in frame.columns:
        return frame.iloc[0:0]
    sub = frame[(frame["task"] == task) & (frame["status"] == "ok")]
    return sub.copy()


def method_name(frame: pd.DataFrame) -> pd.Series:
    """The row label of a method: its suite label, plus the budget when one label ran several budgets."""
    label = frame["label"].astype(str)
    if "budget" not in frame.columns:
        return label
    budget = frame["budget"]
    several = frame.assign(_b=budget.fillna(-1)).groupby("label")["_b"].transform("nunique") > 1
    suffix = budget.map(lambda b: "" if pd.isna(b) else f" @{int(b)}")
    return label.where(~several, label + suffix)


def dataset_key(frame: pd.DataFrame) -> pd.Series:
    """`dataset` on nb201 (and rows from before spaces existed), `space:dataset` elsewhere: cifar10 of
    NAS-Bench-Macro and cifar100 of FBNet are other tasks than NAS-Bench-201's."""
    space = frame["space"].fillna("nb201") if "space" in frame else pd.Series("nb201", index=frame.index)
    return frame["dataset"].where(space == "nb201", space + ":" + frame["dataset"].astype(str))


def _order(values) -> list[str]:
    """Distinct values in a stable natural order ("random @25" before "random @100", cifar10 before cifar100)."""
    def key(v):
        text = str(v)
        name, _, budget = text.rpartition(" @")
        if name and budget.isdigit():
            return name, int(budget)
        return text, -1

    return sorted(dict.fromkeys(values), key=key)


def _board(frame: pd.DataFrame, value: str, column_of, name: str, title: str, higher: bool, note: str = "",
           digits: int = 3, per_seed_mean=True) -> Board | None:
    """Summaries over seeds of `value`, first averaged within (row, column, seed) (over limits, devices...)."""
    if frame.empty or value not in frame.columns:
        return None
    f = frame.assign(_row=method_name(frame), _col=column_of(frame), _v=pd.to_numeric(frame[value], errors="coerce"))
    f = f[f["_v"].notna()]
    if f.empty:
        return None
    per_seed = f.groupby(["_row", "_col", "seed"], sort=False)["_v"].mean().reset_index()
    cells = {}
    for (r, c), g in per_seed.groupby(["_row", "_col"], sort=False):
        cells[(r, c)] = summarize(g["_v"].to_numpy())
    return Board(name, title, higher, cells, _order(f["_row"]), _order(f["_col"]), note=note, digits=digits)


NOISE_PREDICT = "seed-to-seed (noise ceiling)"
NOISE_SEARCH = "pick by one seed (noise floor)"


def regimes(rows: pd.DataFrame) -> list[str]:
    """The hardware regimes of some rows, free first (rows before regimes existed are free)."""
    if rows.empty:
        return []
    found = set(rows["regime"].fillna("free")) if "regime" in rows else {"free"}
    return [r for r in ("free", "charged", "blind") if r in found] + sorted(found - {"free", "charged", "blind"})


def by_regime(rows: pd.DataFrame):
    """(regime, its rows, board-name suffix): boards of the free regime keep their plain names."""
    for regime in regimes(rows):
        found = rows["regime"].fillna("free") if "regime" in rows else pd.Series("free", index=rows.index)
        sub = rows[found == regime]
        yield regime, sub, "" if regime == "free" else f"-{regime}"


def hardware_caption(regime: str) -> str:
    return f"hardware: {regime}"


def _noise_row(board: Board, rows: pd.DataFrame, column_of, value: str, label: str) -> None:
    """A row with the task's seed-noise ceiling (no CI: a property of the benchmark, not of a run)."""
    if board is None or value not in rows or rows[value].isna().all():
        return
    f = rows.assign(_col=column_of(rows), _v=pd.to_numeric(rows[value], errors="coerce")).dropna(subset=["_v"])
    for c, g in f.groupby("_col"):
        x = g.drop_duplicates(subset=[k for k in ("space", "dataset", "device", "limit_label") if k in g])["_v"]
        board.cells[(label, c)] = {**summarize(x.to_numpy()), "n": 1}
    board.rows.append(label)
    board.reference.append(label)


def predict_boards(frame: pd.DataFrame) -> list[Board]:
    out = []
    for regime, rows, sfx in by_regime(ok_rows(frame, "predict")):
        hw = hardware_caption(regime)
        for metric in PREDICT_METRICS:
            col = f"{metric}.kendall_tau"
            b = _board(rows, col, lambda f: f["dataset"], f"predict-{metric}-tau{sfx}",
                       f"Predict: Kendall tau of {metric} (higher is better) [{hw}]", True,
                       note="mean over devices per seed; 95% bootstrap CI over seeds")
            if b and metric == "accuracy":
                _noise_row(b, rows, lambda f: f["dataset"], "noise.seed_tau", NOISE_PREDICT)
            if b:
                out.append(b)
            for dataset in _order(rows["dataset"]):
                sub = rows[rows["dataset"] == dataset]
                b = _board(sub, col, lambda f: f["device"], f"predict-{metric}-tau-{dataset}{sfx}",
                           f"Predict: Kendall tau of {metric} on {dataset}, per device [{hw}]", True,
                           note="95% bootstrap CI over seeds")
                if b:
                    out.append(b)
    return out


def _search_frame(frame: pd.DataFrame) -> pd.DataFrame:
    rows = ok_rows(frame, "search")
    if rows.empty:
        return rows
    feasible = rows["feasible"].astype("boolean").fillna(False).astype(bool) if "feasible" in rows else False
    rows["feasible_rate"] = np.where(feasible, 1.0, 0.0)
    rows["regret_feasible"] = np.where(feasible, pd.to_numeric(rows["regret"], errors="coerce"), np.nan)
    return rows


def _rate_column(rows: pd.DataFrame, board: Board) -> None:
    names = method_name(rows)
    rate = rows.assign(_row=names).groupby("_row")["feasible_rate"].mean()
    q = rows.assign(_row=names).groupby("_row")["queries"].mean() if "queries" in rows else None
    board.extra["feasible"] = {r: f"{100 * v:.0f}%" for r, v in rate.items()}
    if q is not None:
        board.extra["queries"] = {r: f"{v:.0f}" for r, v in q.items()}


def search_boards(frame: pd.DataFrame) -> list[Board]:
    out = []
    for regime, rows, sfx in by_regime(_search_frame(frame)):
        hw = hardware_caption(regime)
        b = _board(rows, "regret_feasible", lambda f: f["dataset"], f"search-regret{sfx}",
                   f"Search: regret = true optimum - true accuracy found, in points (lower is better) [{hw}]", False,
                   note="feasible results only (infeasible ones count in 'feasible'); mean over devices and limits "
                        "per seed; 95% bootstrap CI over seeds", digits=2)
        if b:
            _rate_column(rows, b)
            _noise_row(b, rows, lambda f: f["dataset"], "noise.seed_regret", NOISE_SEARCH)
            out.append(b)
        b = _board(rows, "feasible_rate", lambda f: f["dataset"], f"search-feasible{sfx}",
                   f"Search: share of results feasible under the true limits (higher is better) [{hw}]", True,
                   digits=2, note="mean over devices and limits per seed")
        if b:
            out.append(b)
        for dataset in _order(rows["dataset"]):
            sub = rows[rows["dataset"] == dataset]
            b = _board(sub, "regret_feasible", lambda f: f["device"], f"search-regret-{dataset}{sfx}",
                       f"Search regret on {dataset}, per device (lower is better) [{hw}]", False, digits=2,
                       note="feasible results only; mean over limits per seed")
            if b:
                _rate_column(sub, b)
                _noise_row(b, sub, lambda f: f["device"], "noise.seed_regret", NOISE_SEARCH)
                out.append(b)
    return out


def solver_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return ok_rows(frame, "solvers")


REL_TOL = 1e-6


def solver_records(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (backend, instance, seed) with `agree_all`: the objective matches the best answer of
    ANY backend of the store (enumeration when the benchmark had it, else the best proven optimum), or
    every backend that decided it says infeasible."""
    rows = solver_frame(frame)
    recs = []
    for _, r in rows.iterrows():
        secs = json.loads(r["record_seconds"]) if isinstance(r.get("record_seconds"), str) else []
        for i, rec in enumerate(json.loads(r["records"])):
            recs.append({**rec, "seed": int(r["seed"]), "seconds": secs[i] if i < len(secs) else np.nan})
    if not recs:
        return pd.DataFrame()
    f = pd.DataFrame(recs)
    ref = {}
    for (fam, inst, seed), g in f.groupby(["family", "instance", "seed"]):
        enum = g[g["reference_kind"] == "enumeration"]["reference"].dropna()
        proven = g[g["status"] == "optimal"]["objective"].dropna()
        infeasible = (g["reference_kind"] == "infeasible").any() and not len(proven)
        ref[(fam, inst, seed)] = ("infeasible", None) if infeasible else \
            ("value", float(enum.iloc[0])) if len(enum) else ("value", float(proven.max())) if len(proven) else ("none", None)

    def agrees(rec) -> bool:
        kind, value = ref[(rec["family"], rec["instance"], rec["seed"])]
        if kind == "infeasible":
            return rec["status"] == "infeasible"
        if kind == "none" or rec["objective"] is None or pd.isna(rec["objective"]):
            return False
        return abs(rec["objective"] - value) <= REL_TOL * max(1.0, abs(value))

    f["agree_all"] = [agrees(rec) for rec in f.to_dict("records")]
    return f


def solver_boards(frame: pd.DataFrame) -> list[Board]:
    rows = solver_frame(frame)
    if rows.empty:
        return []
    boards = [(rows.assign(label=rows["backend"], budget=np.nan), "mean_seconds", "solvers-time",
               "Solvers: mean time per problem in seconds (lower is better)", False, 4,
               "mean over the instances of a family per seed; 95% bootstrap CI over seeds")]
    recs = solver_records(frame)
    if not recs.empty:
        per = recs.groupby(["backend", "family", "seed"])["agree_all"].mean().reset_index()
        boards.append((per.assign(label=per["backend"], budget=np.nan, _agree=per["agree_all"].astype(float)),
                       "_agree", "solvers-agreement",
                       "Solvers: share of instances solved to the reference optimum (higher is better)", True, 3,
                       "reference: exhaustive enumeration when feasible, else the best optimum any backend proved"))
    out = []
    for f, value, name, title, higher, digits, note in boards:
        b = _board(f, value, lambda x: x["family"], name, title, higher, digits=digits, note=note)
        if b:
            b.row_header = "backend"
            out.append(b)
    return out


def headline(boards: list[Board]) -> Board | None:
    """The one board the CLI prints: search regret when searched, else accuracy prediction."""
    by_name = {b.name: b for b in boards}
    for name in ("search-regret", "predict-accuracy-tau", "solvers-time"):
        if name in by_name:
            return by_name[name]
    return boards[0] if boards else None
