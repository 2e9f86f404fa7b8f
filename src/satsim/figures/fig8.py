"""fig8: how many eval images a stable SAT matrix needs (nested subsets of one run)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

SPEARMAN_TARGET = 0.95  # the line drawn in panel (a); the summary reports where it is passed


def fig8_images_needed(curve: pd.DataFrame, title: str) -> Figure:
    """Against the number of eval images n (log scale): (a) Spearman correlation of the SAT
    matrix on n images with the full one; (b) median width of SAT's 95 % interval; (c) adjusted
    Rand index of the clusters against the full matrix's."""
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    panels = (
        ("spearman", "Spearman ρ with the full matrix", "(a) ranking of the pairs"),
        ("median_ci_width", "median 95 % interval width of SAT (ln %)", "(b) uncertainty"),
        ("ari", "adjusted Rand index with the full clusters", "(c) clusters"),
    )
    for axis, (column, label, panel) in zip(axes, panels, strict=True):
        axis.plot(curve["n_images"], curve[column], marker="o", color="tab:blue")
        axis.set_xscale("log")
        axis.set_xlabel("eval images used (nested random subsets)")
        axis.set_ylabel(label)
        axis.set_title(panel, fontsize=9)
        axis.grid(alpha=0.3, which="both")
    axes[0].axhline(SPEARMAN_TARGET, color="black", linestyle="--", linewidth=0.8)
    figure.suptitle(title, fontsize=10)
    return figure
