"""What every figure shares: reproducible PDF and PNG files, the font floor, cluster colours."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from satsim.workflow.atomic import atomic_path

# Fixed metadata keeps PDF bytes reproducible (no creation date).
_PDF_METADATA = {"CreationDate": None, "Creator": "satsim", "Producer": None}
PNG_DPI = 200
MIN_FONT_PT = 6.0
DIAGONAL_COLOR = "0.8"


def save_figure(figure: Figure, pdf_path: str | Path, png_path: str | Path) -> None:
    """Write a vector PDF and a PNG, each atomically."""
    with atomic_path(pdf_path) as tmp:
        figure.savefig(tmp, format="pdf", metadata=_PDF_METADATA, bbox_inches="tight")
    with atomic_path(png_path) as tmp:
        figure.savefig(
            tmp, format="png", dpi=PNG_DPI, bbox_inches="tight", metadata={"Software": "satsim"}
        )
    plt.close(figure)


def cluster_colors(clusters: pd.Series) -> dict:
    """One colour per cluster number, in ascending order of the numbers (the same in fig1, fig2)."""
    numbers = sorted(int(c) for c in pd.unique(clusters))
    cmap = plt.get_cmap("tab10" if len(numbers) <= 10 else "tab20")
    return {number: cmap(i % cmap.N) for i, number in enumerate(numbers)}


def percentage_point_axis(axis: Axes, which: str = "y") -> None:
    """Tick labels of one axis holding accuracy differences (fractions, as satsim stores every
    accuracy) in percentage points: 0.012 shows as 1.2. Say "(percentage points)" in its label."""
    points = PercentFormatter(xmax=1.0, symbol="")  # x 100, decimals from the axis range
    (axis.yaxis if which == "y" else axis.xaxis).set_major_formatter(points)
