"""The protocol card of a report: how every number was made, from the store alone.

Sources: the protocols the runner recorded in store.json (suite, regimes, methods with parameters and
deviations from published settings, spaces with splits and data-file hashes, package versions, CPU) and the
rows themselves (which regimes, budgets, seeds, splits and tasks actually ran; fit-cache use; wall times).
It follows the NAS best-practice checklist of Lindauer & Hutter (2020, "Best Practices for Scientific Research
on Neural Architecture Search", JMLR 21(243)): every item is answered from what the store holds.
"""
from __future__ import annotations

import html
import json
import math

import pandas as pd

from core.text import markdown_table
from reports.tables import ok_rows, regimes

REGIME_TEXT = {"free": "hardware lookups cost nothing (HW-NAS-Bench convention), counted",
               "charged": "each distinct hardware measurement costs {cost:g} evaluation(s) of the same budget",
               "blind": "a method knows only what it measured: at most {budget} distinct measurements"}


def _text(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, (list, tuple)):
        return ", ".join(_text(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={_text(x)}" for k, x in v.items()) or "defaults"
    return str(v)


def _col(rows: pd.DataFrame, name: str, default=None) -> pd.Series:
    return rows[name] if name in rows else pd.Series(default, index=rows.index)


def _methods_rows(protocols: list[dict], frame: pd.DataFrame) -> list[dict]:
    seen, out = set(), []
    for p in protocols:
        for m in p.get("methods", []):
            key = (m["label"], tuple(m.get("tasks", [])))
            if key in seen:
                continue
            seen.add(key)
            budgets = ["own cost" if b is None else b for b in m.get("budgets", [None])]
            out.append({"label": m["label"], "tasks": _text(m.get("tasks")), "regimes": _text(m.get("regimes")),
                        "method": m["name"] + (f" ({m['entry']})" if m.get("entry") else ""),
                        "parameters": _text(m.get("params") or {}), "budgets": _text(budgets),
                        "seeds": _text(m.get("seeds")), "deviations from published": "; ".join(m.get("deviations") or [])
                        or "none"})
    if not out and not frame.empty and "label" in frame:   # a store without a recorded protocol: the rows
        rows = frame[frame["task"].isin(["predict", "search"])] if "task" in frame else frame
        for label, g in rows.groupby("label"):
            dev = sorted({d for x in _col(g, "deviations").dropna() for d in json.loads(x)}) \
                if "deviations" in g else []
            budgets = sorted({"own cost" if pd.isna(b) else int(b) for b in _col(g, "budget")}, key=str)
            out.append({"label": label, "tasks": _text(sorted(g["task"].unique())) if "task" in g else "—",
                        "regimes": _text(sorted(_col(g, "regime", "free").fillna("free").unique())),
                        "method": _text(g["method"].iloc[0]), "parameters": "(not recorded)",
                        "budgets": _text(budgets), "seeds": _text(sorted(g["seed"].unique().tolist())),
                        "deviations from published": "; ".join(dev) or "none"})
    return out


def _split_rows(protocols: list[dict], frame: pd.DataFrame) -> list[dict]:
    """Per (space, dataset) the split methods searched on and the one everything was scored on."""
    out = {}
    rows = frame[frame["task"].isin(["predict", "search"])] if "task" in frame else frame.iloc[0:0]
    if not rows.empty:
        keys = rows.assign(space=_col(rows, "space", "nb201").fillna("nb201"),
                           search_split=_col(rows, "search_split").fillna("test"),
                           score_split=_col(rows, "score_split").fillna("test"))
        for (space, ds, se, sc), _ in keys.groupby(["space", "dataset", "search_split", "score_split"]):
            out[(space, ds)] = (se, sc)
    for p in protocols:
        for space, info in p.get("spaces", {}).items():
            for ds, task in info.get("tasks", {}).items():
                if (space, ds) in out or rows.empty:
                    out.setdefault((space, ds), (task["search_split"], task["score_split"]))
    result = []
    for (space, ds), (se, sc) in sorted(out.items()):
        text = f"{se} only: search and score on {se}" if se == sc else f"search on {se}, score on {sc}"
        result.append({"space": space, "dataset": ds, "splits": text})
    return result


def _data_rows(protocols: list[dict]) -> list[dict]:
    out, seen = [], set()
    for p in protocols:
        for space, info in p.get("spaces", {}).items():
            data = info.get("data", {})
            for f in data.get("files", []):
                key = (space, f["file"], f.get("sha256"))
                if key in seen:
                    continue
                seen.add(key)
                out.append({"space": space, "folder": data.get("folder") or "—", "file": f["file"],
                            "bytes": f"{f['bytes']:,}", "sha256": (f.get("sha256") or "not hashed")[:16]})
            if not data.get("files"):
                out.append({"space": space, "folder": "—", "file": f"no data files ({info.get('source', '')})",
                            "bytes": "—", "sha256": "—"})
        for f in p.get("device_files", []):
            out.append({"space": "device file", "folder": "—", "file": f["file"], "bytes": "—",
                        "sha256": f["sha256"][:16]})
    return out


def _coverage(frame: pd.DataFrame) -> tuple[int, int, list[str]]:
    """(tasks, methods, methods missing some task) over the search rows of each regime."""
    rows = ok_rows(frame, "search")
    if rows.empty:
        return 0, 0, []
    key = rows.assign(t=rows[["dataset", "device"]].astype(str).agg("/".join, axis=1)
                      + "/" + _col(rows, "limit_label", "").fillna("").astype(str),
                      r=_col(rows, "regime", "free").fillna("free"))
    tasks = key.groupby("r")["t"].nunique()
    per = key.groupby(["r", "label"])["t"].nunique()
    missing = sorted({lab for (r, lab), n in per.items() if n < tasks[r]})
    return int(tasks.max()), int(key["label"].nunique()), missing


def _checklist(protocols: list[dict], frame: pd.DataFrame, methods: list[dict]) -> list[dict]:
    version = next((p["versions"].get("mathnas-bench") for p in protocols if p.get("versions")), None)
    code = f"mathnas-bench {version}" if version else "this repository"
    search = ok_rows(frame, "search")
    labels = set(frame["label"].dropna()) if "label" in frame else set()
    names = set(frame["method"].dropna()) if "method" in frame else set()
    seeds = sorted(frame["seed"].dropna().astype(int).unique().tolist()) if "seed" in frame else []
    n_tasks, n_methods, missing = _coverage(frame)
    ablation = [lab for lab in labels if "repair" in lab] + sorted(lab for lab in labels if lab.startswith("mathnas-"))
    devs = [m for m in methods if m["deviations from published"] != "none"]
    wall = frame.groupby("label")["seconds"].sum() if {"label", "seconds"} <= set(frame.columns) else pd.Series()
    cpu = next((p.get("cpu", {}).get("model") for p in protocols if p.get("cpu")), None)
    has_traj = "trajectory" in search and search["trajectory"].notna().any()
    same = "yes" if not missing else f"partly: {', '.join(missing)} ran on a subset of the {n_tasks} tasks"
    items = [
        ("Releasing code", "Code for the training pipeline used to evaluate the final architectures",
         "n/a: tabular benchmarks; every accuracy is read from the published tables (data hashes below)"),
        ("Releasing code", "Code for the search space", f"yes: the spaces of {code} (sources below)"),
        ("Releasing code", "Hyperparameters of the final evaluation pipeline, and seeds",
         "n/a: the benchmarks' own training protocols (task notes of each space)"),
        ("Releasing code", "Code for the NAS methods", f"yes: every method of {code}, by registry name"),
        ("Releasing code", "Hyperparameters of the NAS methods, and seeds", "yes: the methods table (parameters, "
         "seeds)"),
        ("Comparing methods", "Same benchmark, dataset, split, search space and training code for every method",
         f"{same}; every method sees the same Oracle (search split) and is scored on the same score split"),
        ("Comparing methods", "Confounding factors controlled (hardware, library versions, runtimes)",
         f"yes: one machine ({cpu or 'CPU not recorded'}), one set of versions (below), one hardware regime per "
         f"table; methods compared at equal evaluation budgets, wall times reported per cell"),
        ("Comparing methods", "Ablation studies",
         f"yes: {', '.join(sorted(set(ablation)))}" if ablation else "no"),
        ("Comparing methods", "Same evaluation protocol for every method",
         "yes: exact optimum by enumeration, regret and feasibility under the true limits, same regime and budgets"),
        ("Comparing methods", "Performance over time", "yes: regret at equal budgets, anytime curves, area under the "
         "curve" if has_traj else "no (no trajectories stored)"),
        ("Comparing methods", "Comparison to random search", "yes" if "random" in names else "no"),
        ("Comparing methods", "Multiple runs, seeds reported", f"yes: seeds {_text(seeds)}" if len(seeds) > 1 else
         f"no: seeds {_text(seeds)}"),
        ("Comparing methods", "Tabular or surrogate benchmarks for in-depth evaluation", "yes: tabular (exhaustive) "
         "ground truth"),
        ("Reporting details", "How hyperparameters were tuned, and at what cost", "no tuning: methods at their "
         "published settings" + (f"; deviations: {', '.join(m['label'] for m in devs)} (†, listed)" if devs else "")),
        ("Reporting details", "Time of the end-to-end NAS method (not only the search phase)",
         "yes: each cell's wall time covers fitting and searching; total per method: "
         + ", ".join(f"{lab} {s:,.0f}s" for lab, s in wall.items()) if len(wall) else "no"),
        ("Reporting details", "All details of the experimental setup", "yes: this card, the suite text and "
         "store.json"),
    ]
    return [{"section": a, "item": b, "answer": c} for a, b, c in items]


def card(frame: pd.DataFrame, protocols: list[dict]) -> list[tuple[str, list]]:
    """The card as sections: (title, [paragraph text | (columns, rows)])."""
    sections = []
    if protocols:
        suites = [f"{p['suite']} (sha256 {p['suite_sha256'][:12]}, {p.get('suite_file') or 'in memory'}, recorded "
                  f"{p.get('recorded', '?')}, executor {p.get('executor') or '?'})" for p in protocols]
        sections.append(("Suite", ["; ".join(suites)]))
    else:
        sections.append(("Suite", ["no protocol recorded in store.json (a store written before protocols were "
                                   "recorded): the card shows what the rows say"]))
    found = regimes(frame[frame["task"].isin(["predict", "search"])]) if "task" in frame else []
    hw = next((p["hardware"] for p in reversed(protocols) if p.get("hardware")), {"cost": 0.1, "budget": None})
    lines = [f"{r}: " + REGIME_TEXT.get(r, "").format(cost=hw.get("cost") or 0.1,
                                                         budget=hw.get("budget") or "the evaluation budget")
             for r in found]
    sections.append(("Hardware regimes (the same for every method of a table)", lines or ["none ran"]))
    search = ok_rows(frame, "search")
    if not search.empty:
        b = sorted({"own cost" if pd.isna(x) else int(x) for x in _col(search, "budget")},
                   key=lambda x: (isinstance(x, str), x if isinstance(x, int) else 0))
        sections.append(("Budgets", [f"evaluation budgets of the search cells: {_text(b)} (distinct architectures "
                                     f"whose accuracy was revealed); methods are compared at equal budgets"]))
    sections.append(("Splits (search: what the Oracle reveals; score: what regret and tau use)",
                     [(["space", "dataset", "splits"], _split_rows(protocols, frame))]))
    methods = _methods_rows(protocols, frame)
    sections.append(("Methods, settings and deviations from the published ones (†)",
                     [(["label", "method", "tasks", "regimes", "parameters", "budgets", "seeds",
                        "deviations from published"], methods)]))
    data = _data_rows(protocols)
    if data:
        sections.append(("Data (content hashes)", [(["space", "folder", "file", "bytes", "sha256"], data)]))
    if protocols:
        p = protocols[-1]
        sections.append(("Software and machine", [", ".join(f"{k} {v}" for k, v in p.get("versions", {}).items() if v),
                                                  f"CPU: {p.get('cpu', {}).get('model')} x {p.get('cpu', {}).get('count')}"
                                                  f" ({p.get('cpu', {}).get('platform')})"]))
    cache = _cache_line(frame)
    if cache:
        sections.append(("Fit cache", [cache]))
    sections.append(("NAS best-practice checklist (Lindauer & Hutter, 2020)",
                     [(["section", "item", "answer"], _checklist(protocols, frame, methods))]))
    return sections


def _cache_line(frame: pd.DataFrame) -> str | None:
    if "fit_cache.hits" not in frame:
        return None
    hits = int(pd.to_numeric(frame["fit_cache.hits"], errors="coerce").fillna(0).sum())
    misses = int(pd.to_numeric(frame["fit_cache.misses"], errors="coerce").fillna(0).sum())
    saved = float(pd.to_numeric(_col(frame, "fit_cache.saved_seconds"), errors="coerce").fillna(0).sum())
    spent = float(pd.to_numeric(_col(frame, "fit_cache.fit_seconds"), errors="coerce").fillna(0).sum())
    return (f"{hits} fits read from the cache, {misses} fitted ({spent:,.0f}s of fitting); the hits saved "
            f"{saved:,.0f}s of fitting (each at the time its miss took)")


def to_markdown(sections) -> str:
    out = ["## Protocol card", ""]
    for title, parts in sections:
        out += [f"**{title}**", ""]
        for part in parts:
            if isinstance(part, tuple):
                cols, rows = part
                out += [markdown_table(rows, cols, {c: _text for c in cols}) if rows else "(none)", ""]
            else:
                out += [str(part), ""]
    return "\n".join(out)


def to_html(sections) -> str:
    out = ["<section class='protocol'><h2>Protocol card</h2>"]
    for title, parts in sections:
        out.append(f"<h3>{html.escape(title)}</h3>")
        for part in parts:
            if isinstance(part, tuple):
                cols, rows = part
                out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols)
                           + "</tr></thead><tbody>")
                out += ["<tr>" + "".join(f"<td>{html.escape(_text(r.get(c)))}</td>" for c in cols) + "</tr>"
                        for r in rows]
                out.append("</tbody></table>")
            else:
                out.append(f"<p>{html.escape(str(part))}</p>")
    out.append("</section>")
    return "\n".join(out)
