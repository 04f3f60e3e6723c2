"""`mathnas-bench report RESULTS_DIR --out DIR`: every leaderboard, figure and the claims table of one store.

Reads ONLY the result store (the runner stores what the figures need: prediction samples, exact Pareto
fronts, trajectories, the claims table, and in store.json the protocol of each run). Writes Markdown,
LaTeX, CSV, PNG/SVG and one self-contained HTML page (figures embedded as base64 PNG; no network needed).
Besides the leaderboards: regret at equal budgets with anytime curves and areas (reports.anytime), the
statistics across tasks of the penalised regret at each planned budget (reports.stats: average ranks,
Friedman + Iman-Davenport, Nemenyi CD diagram, Holm-Wilcoxon, MathNAS against each baseline with effect
sizes), and the protocol card (reports.protocol). Every table's caption names its hardware regime.
"""
from __future__ import annotations

import base64
import html
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from core.errors import HarnessError
from core.files import atomic_write_bytes, ensure_dir
from core.text import markdown_table
from harness.store import ResultStore
from reports import anytime, protocol, stats
from reports.figures import Figure, all_figures
from reports.tables import headline, predict_boards, search_boards, solver_boards

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em 0;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}th:first-child{text-align:left}
thead th{border-bottom:2px solid #444}.note{color:#666;font-size:12px;margin:0}
figure{margin:1em 0}figcaption{font-size:12px;color:#444}img{max-width:100%}
.fail{color:#a00}code{font-size:12px}"""


@dataclass
class ReportResult:
    out: Path
    html: Path
    markdown: Path
    headline: str
    files: list[Path] = field(default_factory=list)


CLAIMS_COLUMNS = ("claim", "source", "paper", "ours", "delta", "verdict", "how")


def claims_markdown(rows: list[dict]) -> str:
    return markdown_table(rows, CLAIMS_COLUMNS, {"delta": lambda v: "—" if v is None else f"{v:+.4g}"})


def claims_rows(frame: pd.DataFrame) -> list[dict] | None:
    """The claims table the runner stored (task "claims"); None when the suite did not ask for it."""
    if "task" not in frame.columns or "claims" not in frame.columns:
        return None
    rows = frame[(frame["task"] == "claims") & (frame["status"] == "ok")]
    if rows.empty:
        return None
    return json.loads(rows.sort_values("seed").iloc[0]["claims"])


def _write(path: Path, text: str, files: list[Path]) -> None:
    atomic_write_bytes(path, text.encode())
    files.append(path)


@dataclass
class StatsSection:
    regime: str
    budget: int
    report: stats.Report | None
    note: str
    figure: Figure | None = None

    @property
    def title(self) -> str:
        return f"Statistics across tasks: penalised regret @{self.budget} evaluations [hardware: {self.regime}]"


def stats_sections(values, budgets, out: Path, figures: bool) -> list[StatsSection]:
    """Ranks and tests of the penalised regret at each planned budget, per regime (complete tasks only)."""
    sections = []
    order = {r: i for i, r in enumerate(("free", "charged", "blind"))}
    for (regime, b), (frame, dropped) in sorted(anytime.task_values(values).items(),
                                                key=lambda kv: (order.get(kv[0][0], 9), kv[0][0], kv[0][1])):
        if b not in budgets:
            continue
        note = f"left out (not run to {b} evaluations on every task): {', '.join(dropped)}" if dropped else ""
        methods = sorted(frame["method"].unique()) if len(frame) else []
        candidate = "mathnas" if any(m.startswith("mathnas") for m in methods) and \
            not all(m.startswith("mathnas") for m in methods) else None
        try:
            rep = stats.analyze(frame, higher_is_better=False, candidate=candidate,
                                metric=f"penalised regret @{b} [{regime}]")
        except HarnessError as e:
            sections.append(StatsSection(regime, b, None, f"{e}" + (f"; {note}" if note else "")))
            continue
        sec = StatsSection(regime, b, rep, note)
        if figures:
            png, svg = rep.cd_diagram(out / "figures" / f"cd-{regime}-b{b}", title=f"{regime} @{b}")
            sec.figure = Figure(f"cd-{regime}-b{b}", f"Critical-difference diagram (Nemenyi, alpha 0.05): "
                                f"penalised regret @{b} [hardware: {regime}]", png, svg)
        sections.append(sec)
    return sections


def spaces_of(frame: pd.DataFrame) -> list[str]:
    """The spaces with predict/search rows, NAS-Bench-201 first (rows from before spaces existed are nb201)."""
    if "task" not in frame or frame.empty:
        return []
    rows = frame[frame["task"].isin(["predict", "search"])]
    found = set(rows["space"].fillna("nb201")) if "space" in rows else ({"nb201"} if len(rows) else set())
    return sorted(found, key=lambda s: (s != "nb201", s))


def space_boards(frame: pd.DataFrame, r: pd.DataFrame) -> tuple[list, list]:
    """Leaderboards per space (regrets and taus of different benchmarks never share a mean), then the solver
    boards once. With several spaces every board is titled with its space and a board of any space but nb201
    is named `<board>@<space>`; the headline the CLI prints is one board per space. Returns (boards, headlines)."""
    spaces = spaces_of(frame)
    several = len(spaces) > 1
    in_space = frame["space"].fillna("nb201") if "space" in frame else pd.Series("nb201", index=frame.index)
    boards, heads = [], []
    for space in spaces or [None]:
        f = frame[(in_space == space) & frame["task"].isin(["predict", "search", "groundtruth"])] if several \
            else frame
        rs = r[r["space"] == space] if several else r
        head = anytime.headline_board(f, r=rs)
        own = ([head] if head else []) + anytime.equal_budget_boards(f, r=rs) + anytime.aurc_board(rs) + \
            predict_boards(f) + search_boards(f)
        for b in own if several else ():
            b.title = f"{space}: {b.title}"
            if space != "nb201":
                b.name = f"{b.name}@{space}"
        boards += own
        heads += [head or headline(own)] if own else []
    boards += solver_boards(frame)
    return boards, heads or [h for h in [headline(boards)] if h]


def build_report(results: str | Path, out: str | Path, figures: bool = True, progress: bool = False) -> ReportResult:
    bar = tqdm(total=4, desc="report", unit="step", file=sys.stderr, disable=None if progress else True)
    bar.set_postfix_str("reading the store")
    store = ResultStore(results)
    frame = store.read()
    bar.update()
    bar.set_postfix_str("tables")
    out = ensure_dir(out, "report folder")
    files: list[Path] = []
    r = anytime.runs(frame)
    budgets = anytime.planned_budgets(r)
    boards, heads = space_boards(frame, r)
    values = anytime.at_budgets(frame, budgets, r=r)
    sections = stats_sections(values, budgets, out, figures)
    card = protocol.card(frame, store.protocols())

    # tables ------------------------------------------------------------------------------------------------
    ensure_dir(out / "tables", "report folder")
    for b in boards:
        _write(out / "tables" / f"{b.name}.md", b.markdown() + "\n", files)
        _write(out / "tables" / f"{b.name}.tex", b.latex(), files)
    long = pd.concat([b.long_frame() for b in boards], ignore_index=True) if boards else pd.DataFrame()
    _write(out / "leaderboards.csv", long.to_csv(index=False), files)
    _write(out / "leaderboards.tex", "\n".join(b.latex() for b in boards), files)
    for sec in sections:
        if sec.report is not None:
            stem = f"stats-{sec.regime}-b{sec.budget}"
            _write(out / "tables" / f"{stem}.md", f"**{sec.title}**\n\n{sec.report.markdown()}", files)
            _write(out / "tables" / f"{stem}.tex", sec.report.latex(), files)
            _write(out / "tables" / f"{stem}.html", sec.report.html(), files)
    _write(out / "protocol.md", protocol.to_markdown(card), files)
    claims = claims_rows(frame)
    if claims is not None:
        _write(out / "claims.md", claims_markdown(claims) + "\n", files)
        _write(out / "claims.csv", pd.DataFrame(claims, columns=list(CLAIMS_COLUMNS)).to_csv(index=False), files)
    failed = frame[frame["status"] != "ok"] if "status" in frame else frame.iloc[0:0]
    if not failed.empty:
        cols = [c for c in ("task", "label", "dataset", "device", "limit_label", "backend", "family", "seed", "error")
                if c in failed]
        _write(out / "failures.csv", failed[cols].to_csv(index=False), files)

    # figures -----------------------------------------------------------------------------------------------
    bar.update()
    bar.set_postfix_str("figures")
    figs = (anytime.curve_figures(r, out / "figures") + all_figures(frame, out / "figures")) if figures else []
    figs += [sec.figure for sec in sections if sec.figure is not None]
    bar.update()
    bar.set_postfix_str("pages")
    for f in figs:
        files += [f.png, f.svg]

    # Markdown summary ---------------------------------------------------------------------------------------
    counts = frame.groupby(["task", "status"]).size() if len(frame) else pd.Series(dtype=int)
    count_text = ", ".join(f"{t} {s}: {n}" for (t, s), n in counts.items())
    md = ["# mathnas-bench report", "", f"Result store `{Path(results).resolve()}`: {len(frame)} cells ({count_text}).",
          ""]
    md += [b.markdown() + "\n" for b in boards]
    for sec in sections:
        md += [f"### {sec.title}", ""] + ([sec.report.markdown()] if sec.report else []) + \
            ([sec.note, ""] if sec.note else [])
    md += [protocol.to_markdown(card), ""]
    if claims is not None:
        md += ["**Paper claims**", "", claims_markdown(claims), ""]
    else:
        md += ["(no claims table in this store: add \"claims\" to the suite's tasks)", ""]
    if not failed.empty:
        md += [f"**{len(failed)} failed cells** (see failures.csv; re-running the suite retries them)", ""]
    md += [f"![{f.title}](figures/{f.png.name})" for f in figs]
    _write(out / "report.md", "\n".join(md) + "\n", files)

    # HTML --------------------------------------------------------------------------------------------------
    body = [f"<h1>mathnas-bench report</h1><p>Result store <code>{html.escape(str(Path(results).resolve()))}</code>: "
            f"{len(frame)} cells ({html.escape(count_text)}); generated "
            f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}.</p>"]
    if not failed.empty:
        body.append(f"<p class='fail'>{len(failed)} failed cells (see failures.csv).</p>")
    body.append("<h2>Leaderboards</h2>")
    body += [b.html() for b in boards]
    if sections:
        body.append("<h2>Statistics across tasks</h2>")
    for sec in sections:
        body.append(f"<h3>{html.escape(sec.title)}</h3>")
        if sec.report is not None:
            body.append(sec.report.html())
        if sec.note:
            body.append(f"<p class='note'>{html.escape(sec.note)}</p>")
    body.append(protocol.to_html(card))
    if claims is not None:
        body.append("<h2>Paper claims</h2><table><thead><tr>" +
                    "".join(f"<th>{c}</th>" for c in CLAIMS_COLUMNS) + "</tr></thead><tbody>")
        for r in claims:
            body.append("<tr>" + "".join(f"<td>{html.escape('—' if r.get(c) is None else str(r.get(c)))}</td>"
                                         for c in CLAIMS_COLUMNS) + "</tr>")
        body.append("</tbody></table>")
    if figs:
        body.append("<h2>Figures</h2>")
        for f in figs:
            data = base64.b64encode(f.png.read_bytes()).decode()
            body.append(f"<figure><img alt='{html.escape(f.title)}' src='data:image/png;base64,{data}'>"
                        f"<figcaption>{html.escape(f.title)}</figcaption></figure>")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>mathnas-bench report</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")
    _write(out / "index.html", page, files)
    bar.update()
    bar.close()
    return ReportResult(out, out / "index.html", out / "report.md", "\n\n".join(h.markdown() for h in heads), files)
