"""Figures of the component analysis (fig3, fig4) and of the comparison with the released
matrix. Numbering as in DESIGN.md; saving through :func:`satsim.figures.save_figure`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from satsim.component_analysis import SHARED
from satsim.figures import plt


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


def fig4_shared_component(
    pairs: pd.DataFrame, effects: pd.DataFrame, columns: Sequence[str], title: str
) -> Figure:
    """Per component: SAT of pairs sharing its value vs not (box plot and points), with
    Cliff's delta in the panel title."""
    n_cols = 4
    n_rows = math.ceil(len(columns) / n_cols)
    figure, axes = plt.subplots(
        n_rows, n_cols, figsize=(3.0 * n_cols, 2.6 * n_rows), sharey=True, squeeze=False
    )
    effect = effects.set_index("component")
    rng = np.random.default_rng(0)  # jitter only
    for axis, column in zip(axes.flat, columns, strict=False):
        mask = pairs[SHARED + column].to_numpy() == 1
        groups = [pairs["sat"][mask].to_numpy(), pairs["sat"][~mask].to_numpy()]
        labels = [f"shared\n(n={len(groups[0])})", f"not shared\n(n={len(groups[1])})"]
        present = [k for k, group in enumerate(groups) if len(group)]
        axis.boxplot(
            [groups[k] for k in present],
            positions=present,
            widths=0.5,
            showfliers=False,
            medianprops={"color": "black"},
        )
        for k in present:
            jitter = rng.uniform(-0.18, 0.18, len(groups[k]))
            axis.scatter(k + jitter, groups[k], s=4, alpha=0.35, color=f"C{k}", linewidths=0)
        axis.set_xticks([0, 1], labels, fontsize=7)
        axis.set_xlim(-0.6, 1.6)
        delta = effect.loc[column, "cliffs_delta"]
        note = f"δ = {delta:+.2f}" if np.isfinite(delta) else "no contrast"
        axis.set_title(f"{column}\n{note}", fontsize=8)
        axis.grid(axis="y", alpha=0.3)
    for axis in axes.flat[len(columns) :]:
        axis.set_visible(False)
    for axis in axes[:, 0]:
        axis.set_ylabel("SAT of the pair")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


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
