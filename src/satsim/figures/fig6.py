"""fig6: distilled-student accuracy against teacher-student SAT."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from satsim.figures.style import percentage_point_axis


def fig6_distillation(table: pd.DataFrame, runs: pd.DataFrame, title: str) -> Figure:
    """Per student: distilled accuracy minus the no-teacher baseline against teacher-student SAT;
    each seed a dot, the mean with its min-max range as error bar. Accuracies are fractions,
    shown in percent (differences in percentage points)."""
    students = list(dict.fromkeys(table["student"]))
    figure, axes = plt.subplots(
        1, len(students), figsize=(5.2 * len(students), 4.4), squeeze=False, sharey=True
    )
    for axis, student in zip(axes[0], students, strict=True):
        rows = table[table["student"] == student]
        baseline = rows["baseline_accuracy"].iloc[0]
        seeds = runs[(runs["student"] == student) & (runs["teacher"] != "none")]
        axis.scatter(
            seeds["sat"],
            seeds["accuracy"] - baseline,
            s=14,
            color="grey",
            alpha=0.7,
            label="one seed",
        )
        axis.errorbar(
            rows["sat"],
            rows["gain_mean"],
            yerr=[
                rows["accuracy_mean"] - rows["accuracy_min"],
                rows["accuracy_max"] - rows["accuracy_mean"],
            ],
            fmt="o",
            color="tab:blue",
            capsize=3,
            label="mean (bar: range over seeds)",
        )
        for _, row in rows.iterrows():
            axis.annotate(
                row["teacher"],
                (row["sat"], row["gain_mean"]),
                xytext=(4, 3),
                textcoords="offset points",
                fontsize=7,
            )
        axis.axhline(0, color="black", linewidth=0.8)
        axis.set_xlabel("teacher–student SAT (natural log)")
        axis.set_title(f"student: {student} (no teacher: {100 * baseline:.1f} %)", fontsize=10)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("distilled − no-teacher accuracy (percentage points)")
    percentage_point_axis(axes[0][0], "y")  # the axes share y: one formatter serves them all
    axes[0][0].legend(frameon=False, fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
