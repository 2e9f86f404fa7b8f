"""fig9: SAT next to other similarity measures computed from the same run."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def fig9_measures(correlations: pd.DataFrame, summary: pd.DataFrame, title: str) -> Figure:
    """(a) Spearman correlation between every two measures over the model pairs; (b) each
    measure's held-out R² from the 13 shared-component features (fig3's model and folds);
    (c) each measure's Spearman ρ with ensemble gain (fig5), with its model-level bootstrap 95 %
    interval. ``summary`` is indexed by measure with r2_mean, r2_std, ensemble_spearman,
    ensemble_ci_low, ensemble_ci_high."""
    names = list(correlations.index)
    figure, axes = plt.subplots(
        1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1.2, 1, 1]}, constrained_layout=True
    )
    axis = axes[0]
    image = axis.imshow(correlations.to_numpy(float), cmap="RdBu_r", vmin=-1, vmax=1)
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(len(names)), names, fontsize=8)
    for (row, column), value in np.ndenumerate(correlations.to_numpy(float)):
        axis.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7)
    figure.colorbar(image, ax=axis, shrink=0.8).set_label("Spearman ρ over model pairs")
    axis.set_title("(a) agreement between measures", fontsize=9)

    positions = np.arange(len(summary))
    axis = axes[1]
    axis.barh(positions, summary["r2_mean"], xerr=summary["r2_std"], color="tab:blue", capsize=3)
    axis.set_yticks(positions, summary.index, fontsize=8)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel("held-out R² from the 13 shared\ncomponents (±1 s.d. over folds)")
    if summary["r2_mean"].isna().all():
        axis.text(
            0.5,
            0.5,
            "too few model pairs\nto cross-validate",
            transform=axis.transAxes,
            ha="center",
            va="center",
        )
    axis.set_title("(b) architectural information", fontsize=9)
    axis.grid(axis="x", alpha=0.3)

    axis = axes[2]
    low = summary["ensemble_spearman"] - summary["ensemble_ci_low"]
    high = summary["ensemble_ci_high"] - summary["ensemble_spearman"]
    axis.errorbar(
        summary["ensemble_spearman"],
        positions,
        xerr=[low, high],
        fmt="o",
        color="tab:orange",
        capsize=3,
    )
    axis.set_yticks(positions, summary.index, fontsize=8)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel("Spearman ρ with ensemble gain over\nthe members' mean [95 % interval]")
    axis.set_title("(c) relation to ensemble gain", fontsize=9)
    axis.grid(axis="x", alpha=0.3)
    figure.suptitle(title, fontsize=10)
    return figure
