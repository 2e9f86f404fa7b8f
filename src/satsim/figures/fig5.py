"""fig5: ensemble gain against SAT for model pairs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from satsim.figures.style import percentage_point_axis


def fig5_ensembles(
    pairs: pd.DataFrame,
    correlations: pd.DataFrame,
    partners: pd.DataFrame,
    k_ensembles: pd.DataFrame,
    title: str,
) -> Figure:
    """(a) pair ensemble gain over the members' mean against SAT, same vs different base
    architecture, with a least-squares line and Spearman ρ [95 % CI]; (b) each model's gain with
    its most vs least similar partner; (c) k-model ensembles within one cluster vs across.
    Gains are accuracy differences as fractions, shown in percentage points."""
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1.4, 1, 1]})
    axis = axes[0]
    for same, color, label in (
        (True, "tab:blue", "same base arch."),
        (False, "tab:orange", "different"),
    ):
        group = pairs[pairs["same_family"] == same]
        axis.scatter(
            group["sat"], group["gain_over_mean"], s=12, alpha=0.6, color=color, label=label
        )
    if len(pairs) >= 2 and pairs["sat"].nunique() > 1:
        slope, intercept = np.polyfit(pairs["sat"], pairs["gain_over_mean"], 1)
        xs = np.linspace(pairs["sat"].min(), pairs["sat"].max(), 50)
        axis.plot(
            xs, slope * xs + intercept, color="black", linewidth=1, label="least-squares line"
        )
    row = correlations[
        (correlations["pairs"] == "all pairs") & (correlations["gain"] == "gain_over_mean")
    ].iloc[0]
    interval = f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    axis.set_title(f"(a) pairs: Spearman ρ = {row['spearman']:.2f} {interval}", fontsize=10)
    axis.set_xlabel("SAT of the pair (natural log)")
    axis.set_ylabel("ensemble accuracy − mean of the two (percentage points)")
    percentage_point_axis(axis, "y")
    axis.legend(frameon=False, fontsize=8)
    axis.grid(alpha=0.3)

    axis = axes[1]
    order = partners.sort_values("gain_least_similar")
    positions = np.arange(len(order))
    axis.scatter(
        order["gain_most_similar"], positions, color="tab:blue", s=18, label="most similar partner"
    )
    axis.scatter(
        order["gain_least_similar"], positions, color="tab:red", s=18, label="least similar partner"
    )
    for y, (a, b) in enumerate(
        zip(order["gain_most_similar"], order["gain_least_similar"], strict=True)
    ):
        axis.plot([a, b], [y, y], color="grey", linewidth=0.6)
    axis.set_yticks(
        positions, order["model"], fontsize=max(4, min(8, int(300 / max(len(order), 1))))
    )
    axis.set_xlabel("ensemble accuracy − mean of the two (percentage points)")
    percentage_point_axis(axis, "x")
    axis.set_title("(b) each model with its most / least similar partner", fontsize=10)
    axis.legend(frameon=False, fontsize=8)
    axis.grid(axis="x", alpha=0.3)

    axis = axes[2]
    groups, labels = [], []
    for (k, drawn), group in k_ensembles.groupby(["k", "drawn"], sort=True):
        groups.append(group["gain_over_mean"].to_numpy())
        labels.append(f"k={k}\n{drawn}")
    if groups:
        axis.boxplot(groups, showfliers=False, medianprops={"color": "black"})
        axis.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    axis.set_ylabel("ensemble accuracy − mean of members (percentage points)")
    percentage_point_axis(axis, "y")
    axis.set_title("(c) k-model ensembles by spectral cluster", fontsize=10)
    axis.grid(axis="y", alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
