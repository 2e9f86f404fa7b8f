"""Clean accuracy of each model on the evaluation set, next to its published top-1.

The first thing to check in a paper run: a model far below timm's figure for its tag points at
wrong weights, wrong preprocessing or wrong labels, and every SAT value involving it is suspect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

# Flag a model whose accuracy differs from its published top-1 by more than this (a fraction:
# 3 percentage points). With 5,000 images the binomial standard error is about 0.006 (0.6
# points), so 3 points is a real gap.
GAP = 0.03


def top1_fraction(top1_percent: float | None) -> float | None:
    """A registry ``top1`` (timm's published ImageNet top-1, in percent as timm's results table
    gives it) as a fraction in [0, 1], like every accuracy satsim measures. The one place where
    the two units meet."""
    return None if top1_percent is None else top1_percent / 100.0


def accuracy_table(
    accuracies: Mapping[str, float],
    n_images: int,
    published: Mapping[str, Mapping[str, Any]],
    gap: float = GAP,
) -> pd.DataFrame:
    """One row per model: ``accuracy`` with its binomial standard error (``accuracy_stderr``),
    timm's ``published_top1`` and the ``gap`` between them, all fractions in [0, 1]; ``flag``
    marks a gap larger than ``gap``.

    Args:
        accuracies: model -> clean accuracy in [0, 1] on the ``n_images`` evaluation images.
        published: model -> {"architecture": ..., "top1": the registry's top1 (percent) or None}.
    """
    rows = []
    for model, accuracy in accuracies.items():
        stderr = math.sqrt(accuracy * (1 - accuracy) / n_images) if n_images else math.nan
        top1 = top1_fraction(published[model].get("top1"))
        difference = accuracy - top1 if top1 is not None else math.nan
        rows.append(
            {
                "model": model,
                "architecture": published[model]["architecture"],
                "n_images": n_images,
                "accuracy": accuracy,
                "accuracy_stderr": stderr,
                "published_top1": top1,
                "gap": difference,
                "flag": bool(abs(difference) > gap) if top1 is not None else False,
            }
        )
    return pd.DataFrame(rows)


def flagged_lines(table: pd.DataFrame, gap: float = GAP) -> list[str]:
    """One line per flagged model: what differs and what to check (in percent for reading)."""
    return [
        f"{row.model} ({row.architecture}): {100 * row.accuracy:.2f} % on {row.n_images} images "
        f"vs published {100 * row.published_top1:.2f} % (gap {100 * row.gap:+.2f} percentage "
        f"points > {100 * gap:g}); check its weights (tag), preprocessing and the labels"
        for row in table.itertuples()
        if row.flag
    ]
