"""Figures from a result store (matplotlib Agg; each saved as PNG and SVG).

- predicted vs true per method (the paper's Fig. 3 view), from the seeded (true, predicted) sample
  each predict cell keeps (`sample_size` pairs, default 500; seed = the cell's seed);
- accuracy vs latency/energy per device with the exact Pareto front (stored by the runner's
  groundtruth cells from harness.groundtruth.pareto_front) and every method's found architectures (Fig. 4);
- regret vs evaluation budget (queries actually spent);
- solver time vs problem size.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.plots import solver_time_vs_size
from reports.tables import _order, _search_frame, method_name, ok_rows

MARKERS = "os^Dv<>pPX*h"


@dataclass
class Figure:
    name: str
    title: str
    png: Path
    svg: Path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "mathnas-bench", "font.size": 8})  # reproducible SVG ids
    return plt


def _save(fig, out: Path, name: str, title: str) -> Figure:
    plt = _plt()
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    fig.savefig(png, dpi=110, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return Figure(name, title, png, svg)


def _grid(n: int, width: float = 3.0, height: float = 2.8):
    plt = _plt()
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _loads(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return json.loads(v) if isinstance(v, str) else v


def scatter_figures(frame: pd.DataFrame, out: Path) -> list[Figure]:
    """Predicted vs true accuracy per method (first device and lowest seed per dataset); latency per device."""
    rows = ok_rows(frame, "predict")
    if rows.empty:
        return []
    rows = rows.assign(_row=method_name(rows)).sort_values(["device", "seed", "key"], kind="stable")
    figs = []
    jobs = [("accuracy", ds, rows[rows["dataset"] == ds], "device") for ds in _order(rows["dataset"])]
    first_ds = _order(rows["dataset"])[0]
    for metric in ("latency", "energy"):
        for dev in _order(rows["device"]):
            sub = rows[(rows["device"] == dev) & (rows["dataset"] == first_ds)]
            if f"sample.{metric}.true" in sub and sub[f"sample.{metric}.true"].notna().any():
                jobs.append((metric, dev, sub, "dataset"))
    for metric, where, sub, _ in jobs:
        col_t, col_p = f"sample.{metric}.true", f"sample.{metric}.pred"
        if col_t not in sub:
            continue
        sub = sub[sub[col_t].notna()]
        methods = _order(sub["_row"])
        if not methods:
            continue
        fig, axes = _grid(len(methods))
        for ax, m in zip(axes, methods):
            r = sub[sub["_row"] == m].iloc[0]
            t, p = np.asarray(_loads(r[col_t]), float), np.asarray(_loads(r[col_p]), float)
            ax.scatter(t, p, s=4, alpha=0.5, color="tab:blue", linewidths=0)
            if t.size:
                lo, hi = float(np.nanmin(t)), float(np.nanmax(t))
                ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
            tau = r.get(f"{metric}.kendall_tau")
            ax.set_title(f"{m}\n{r['dataset']}/{r['device']} seed {int(r['seed'])}, tau {tau:.3f}", fontsize=7)
            ax.set_xlabel(f"true {metric}")
            ax.set_ylabel(f"predicted {metric}")
        name = f"scatter-{metric}-{where}"
        figs.append(_save(fig, out, name, f"Predicted vs true {metric} ({where}; {len(t)} sampled architectures)"))
    return figs


def pareto_figures(frame: pd.DataFrame, out: Path) -> list[Figure]:
    """Per dataset, one panel per device: true cloud, exact Pareto front, limits, found architectures."""
    truth = ok_rows(frame, "groundtruth")
    search = _search_frame(frame)
    if truth.empty:
        return []
    figs = []
    for metric in ("latency", "energy"):
        col = f"truth.{metric}.front_cost"
        if col not in truth or truth[col].isna().all():
            continue
        t_rows = truth[truth[col].notna()]
        for dataset in _order(t_rows["dataset"]):
            sub = t_rows[t_rows["dataset"] == dataset].sort_values("device", kind="stable")
            fig, axes = _grid(len(sub), 3.4, 3.0)
            handles = {}
            for ax, (_, tr) in zip(axes, sub.iterrows()):
                device = tr["device"]
                ax.scatter(_loads(tr[f"truth.{metric}.cloud_cost"]), _loads(tr[f"truth.{metric}.cloud_accuracy"]),
                           s=2, color="0.8", linewidths=0, label="architectures (sample)")
                h = ax.step(_loads(tr[col]), _loads(tr[f"truth.{metric}.front_accuracy"]), where="post",
                            color="black", lw=1, label="exact Pareto front")
                handles.setdefault("exact Pareto front", h[0])
                if not search.empty and f"limits.{metric}" in search:
                    found = search[(search["dataset"] == dataset) & (search["device"] == device)]
                    for lim in sorted(found[f"limits.{metric}"].dropna().unique()):
                        ax.axvline(lim, color="tab:red", lw=0.6, ls=":")
                    found = found.assign(_row=method_name(found))
                    for i, m in enumerate(_order(found["_row"])):
                        f = found[found["_row"] == m]
                        h = ax.scatter(f[f"true_{metric}"], f["true_accuracy"], s=14, marker=MARKERS[i % len(MARKERS)],
                                       alpha=0.7, label=m, facecolors="none", edgecolors=f"C{i}")
                        handles.setdefault(m, h)
                ax.set_title(f"{device}", fontsize=8)
                ax.set_xlabel(f"true {metric} ({'ms' if metric == 'latency' else 'mJ'})")
                ax.set_ylabel(f"accuracy on {dataset} (%)")
                cost = np.asarray(_loads(tr[f"truth.{metric}.cloud_cost"]), float)
                if cost.size and np.nanmin(cost) > 0 and np.nanmax(cost) / np.nanmin(cost) > 20:
                    from matplotlib.ticker import NullFormatter

                    ax.set_xscale("log")
                    ax.xaxis.set_minor_formatter(NullFormatter())
            fig.tight_layout()
            fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(handles), 5),
                       fontsize=7, bbox_to_anchor=(0.5, 1.0))
            figs.append(_save(fig, out, f"pareto-{metric}-{dataset}",
                              f"Accuracy vs {metric} on {dataset}: exact Pareto front, limits (dotted) and found "
                              f"architectures"))
    return figs


def regret_budget_figure(frame: pd.DataFrame, out: Path) -> list[Figure]:
    """Mean regret (feasible results) against the evaluations actually spent, per method and dataset."""
    rows = _search_frame(frame)
    if rows.empty or "queries" not in rows:
        return []
    regime = rows["regime"].fillna("free") if "regime" in rows else pd.Series("free", index=rows.index)
    several = regime.nunique() > 1
    rows = rows.assign(_row=rows["label"].astype(str) + (" [" + regime + "]" if several else ""),
                       _b=rows["budget"].fillna(-1))
    datasets = _order(rows["dataset"])
    methods = sorted(_order(rows["_row"]))
    fig, axes = _grid(len(datasets), 3.6, 3.0)
    handles = {}
    for ax, ds in zip(axes, datasets):
        sub = rows[rows["dataset"] == ds]
        for i, m in enumerate(methods):
            g = sub[sub["_row"] == m].groupby("_b").agg(q=("queries", "mean"), r=("regret_feasible", "mean"))
            g = g.sort_values("q")
            if g.empty:
                continue
            h = ax.plot(g["q"].clip(lower=1), g["r"], marker=MARKERS[i % len(MARKERS)], color=f"C{i}", label=m,
                        ms=4, lw=1)
            handles.setdefault(m, h[0])
        ax.set_xscale("log")
        ax.set_xlabel("evaluations spent (distinct architectures)")
        ax.set_ylabel("mean regret of feasible results (points)")
        ax.set_title(ds, fontsize=8)
    fig.tight_layout()
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(handles), 5), fontsize=7,
               bbox_to_anchor=(0.5, 1.0))
    return [_save(fig, out, "regret-vs-budget", "Regret vs evaluation budget (mean over devices, limits and seeds)")]


def solver_figure(frame: pd.DataFrame, out: Path) -> list[Figure]:
    """Median solve time against m x n (binary variables), per backend; x marks results not proven optimal."""
    from reports.tables import solver_records

    recs = solver_records(frame)
    if recs.empty:
        return []
    recs = recs[recs["status"] != "unavailable"]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    solver_time_vs_size(ax, recs, _order(recs["backend"]), MARKERS)
    return [_save(fig, out, "solver-time-vs-size", "Solver time vs problem size (median over instances and seeds; "
                  "x = not proven optimal)")]


def all_figures(frame: pd.DataFrame, out: Path) -> list[Figure]:
    return (scatter_figures(frame, out) + pareto_figures(frame, out) + regret_budget_figure(frame, out)
            + solver_figure(frame, out))
