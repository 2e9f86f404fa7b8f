"""This run's SAT against the authors' released matrix, pair by pair."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def comparison_scatter(pairs: pd.DataFrame, summary: dict, title: str) -> Figure:
    """Each model pair's SAT in this run against the released matrix, with the identity line."""
    figure, axis = plt.subplots(figsize=(5.2, 5.0))
    axis.scatter(pairs["theirs"], pairs["ours"], s=8, alpha=0.5, linewidths=0)
    low = float(min(pairs["ours"].min(), pairs["theirs"].min()))
    high = float(max(pairs["ours"].max(), pairs["theirs"].max()))
    axis.plot([low, high], [low, high], color="black", linewidth=0.8, label="identity")
    axis.set_xlabel("SAT in the released matrix (natural log)")
    axis.set_ylabel("SAT in this run (natural log)")
    axis.set_title(
        f"{title}\n{summary['n_models']} shared models: Spearman {summary['spearman']:.2f}, "
        f"top-{summary['top_k']} overlap {summary['top_k_overlap']:.0%}, "
        f"cluster ARI {summary['cluster_ari']:.2f}",
        fontsize=9,
    )
    axis.legend(frameon=False, loc="upper left")
    axis.grid(alpha=0.3)
    return figure
