"""Plots drawn both by a command and by the report (headless matplotlib): one drawing, two callers."""
from __future__ import annotations

import pandas as pd

NOT_PROVEN = ("optimal", "infeasible")      # statuses a backend proves; anything else is marked x


def solver_time_vs_size(ax, runs: pd.DataFrame, backends: list[str], markers=("o",)) -> None:
    """Median solve time per problem size (m x n binaries) per backend on log axes; an x marks each solve
    not proven (time limit, error). `runs`: columns backend, choices, seconds, status."""
    for i, b in enumerate(backends):
        g = runs[runs["backend"] == b]
        if g.empty:
            continue
        med = g.groupby("choices")["seconds"].median().sort_index()
        line, = ax.plot(med.index, med.to_numpy(), marker=markers[i % len(markers)], label=b, ms=4, lw=1)
        bad = g[~g["status"].isin(NOT_PROVEN)]
        if len(bad):
            ax.scatter(bad["choices"], bad["seconds"], marker="x", color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("problem size: m x n (binary variables)")
    ax.set_ylabel("solve time (s), median")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
