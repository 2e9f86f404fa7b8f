"""fig10: what measuring fewer pairs costs: the adaptive strategy replayed on a complete SAT
matrix (:func:`satsim.similarity.adaptive.replay_table`), against the share of pairs measured."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

M_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
PANELS = (
    (
        "spearman_unmeasured",
        "baseline_spearman_unmeasured",
        "Spearman ρ with the truth, unmeasured pairs",
        "(a) ranking of the estimated pairs",
    ),
    (
        "cluster_ari",
        "baseline_cluster_ari",
        "adjusted Rand index with the full matrix's clusters",
        "(b) spectral clusters",
    ),
)


def fig10_adaptive_replay(table: pd.DataFrame, title: str) -> Figure:
    """Against the share of model pairs measured: (a) Spearman correlation of the estimated
    cells with the truth, (b) adjusted Rand index of the spectral clusters against the full
    matrix's. Filled markers: the adaptive estimator; hollow: soft-impute through the same
    strategy. Colour: landmarks k; marker shape: partners per round m.

    ``table`` has the columns of :data:`satsim.similarity.adaptive.TABLE_COLUMNS`, one row
    per (k, m)."""
    ks = sorted(int(k) for k in table["k"].unique())
    ms = sorted(int(m) for m in table["m"].unique())
    cmap = plt.get_cmap("viridis")
    colors = {k: cmap(i / max(len(ks) - 1, 1) * 0.9) for i, k in enumerate(ks)}
    markers = {m: M_MARKERS[i % len(M_MARKERS)] for i, m in enumerate(ms)}
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for axis, (ours, baseline, label, panel) in zip(axes, PANELS, strict=True):
        for row in table.itertuples(index=False):
            color, marker = colors[int(row.k)], markers[int(row.m)]
            x = row.fraction_measured
            axis.scatter(x, getattr(row, ours), color=color, marker=marker, s=46, zorder=3)
            axis.scatter(
                x,
                getattr(row, baseline),
                facecolors="none",
                edgecolors=[color],
                marker=marker,
                s=46,
                linewidths=1.2,
                zorder=2,
            )
        axis.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        axis.ticklabel_format(axis="y", style="plain", useOffset=False)
        axis.set_xlabel("model pairs measured (% of N(N-1)/2)")
        axis.set_ylabel(label)
        axis.set_title(panel, fontsize=9)
        axis.grid(alpha=0.3)
    axes[1].legend(
        handles=_legend_handles(colors, markers),
        loc="center left",
        bbox_to_anchor=(1.02, 0.5),
        frameon=False,
        fontsize=8,
    )
    figure.suptitle(title, fontsize=10)
    return figure


def _legend_handles(colors: dict, markers: dict) -> list[Line2D]:
    """Legend entries: the two estimators, the colours of k, the markers of m."""

    def entry(label, **style):
        return Line2D([], [], linestyle="none", markersize=7, label=label, **style)

    handles = [
        entry("adaptive estimator", marker="o", color="0.3"),
        entry("soft-impute baseline", marker="o", markerfacecolor="none", color="0.3"),
    ]
    handles += [entry(f"k = {k} landmarks", marker="o", color=c) for k, c in colors.items()]
    handles += [entry(f"m = {m} partners", marker=s, color="0.5") for m, s in markers.items()]
    return handles
