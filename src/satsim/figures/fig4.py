"""fig4: SAT of pairs that share a component value against pairs that don't, per component."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from satsim.analysis.components import SHARED


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
