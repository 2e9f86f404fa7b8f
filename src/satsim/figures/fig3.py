"""fig3: importance of the 13 architectural components for predicting SAT."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def fig3_importance(table: pd.DataFrame, r2: np.ndarray, title: str) -> Figure:
    """Permutation importance per component, sorted, with ±1 standard deviation error bars."""
    ordered = table.sort_values("importance")
    figure, axis = plt.subplots(figsize=(6.5, 0.32 * len(ordered) + 1.6))
    axis.barh(
        ordered["component"],
        ordered["importance"],
        xerr=ordered["importance_std"],
        color="tab:blue",
        ecolor="black",
        capsize=3,
    )
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel("permutation importance (mean drop in held-out R² of SAT; ±1 s.d.)")
    axis.set_ylabel("architectural component (shared by the pair or not)")
    if np.isnan(r2).all():
        axis.set_title(f"{title}\ntoo few model pairs to cross-validate")
    else:
        axis.set_title(f"{title}\ncross-validated R² = {np.nanmean(r2):.2f} ± {np.nanstd(r2):.2f}")
    axis.grid(axis="x", alpha=0.3)
    return figure
