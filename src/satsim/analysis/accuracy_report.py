"""Clean accuracy of each model on the evaluation set, next to its published top-1.

The first thing to check in a paper run: a model far below timm's figure for its tag points at
wrong weights, wrong preprocessing or wrong labels, and every SAT value involving it is suspect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

# Flag a model whose accuracy differs from its published top-1 by more than this (points).
# With 5,000 images the binomial standard error is about 0.6 points, so 3 points is a real gap.
GAP_POINTS = 3.0


def accuracy_table(
    accuracies: Mapping[str, float],
    n_images: int,
    published: Mapping[str, Mapping[str, Any]],
    gap_points: float = GAP_POINTS,
) -> pd.DataFrame:
    """One row per model: accuracy (%) with its standard error, timm's top-1 (%) and the gap.

    Args:
        accuracies: model -> clean accuracy in [0, 1] on the ``n_images`` evaluation images.
        published: model -> {"architecture": ..., "top1": percent or None}.
    """
    rows = []
    for model, accuracy in accuracies.items():
        percent = 100.0 * accuracy
        stderr = 100.0 * math.sqrt(accuracy * (1 - accuracy) / n_images) if n_images else math.nan
        top1 = published[model].get("top1")
        gap = percent - top1 if top1 is not None else math.nan
        rows.append(
            {
                "model": model,
                "architecture": published[model]["architecture"],
                "n_images": n_images,
                "accuracy_pct": percent,
                "stderr_pct": stderr,
                "published_top1_pct": top1,
                "gap_points": gap,
                "flag": bool(abs(gap) > gap_points) if top1 is not None else False,
            }
        )
    return pd.DataFrame(rows)


def flagged_lines(table: pd.DataFrame, gap_points: float = GAP_POINTS) -> list[str]:
    """One line per flagged model: what differs and what to check."""
    return [
        f"{row.model} ({row.architecture}): {row.accuracy_pct:.2f} % on {row.n_images} images vs "
        f"published {row.published_top1_pct:.2f} % (gap {row.gap_points:+.2f} points > "
        f"{gap_points:g}); check its weights (tag), preprocessing and the labels"
        for row in table.itertuples()
        if row.flag
    ]
