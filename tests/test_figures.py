"""fig1 and fig2 hold the paper's 69 models: fig1's labels are readable, overlap nothing and stay
in the axes; fig2's text is at least 6 pt and its colour scale spans the off-diagonal values;
one cluster numbering (1 .. n) in clusters.csv, the tables and both figures. Every figure with a
log axis labels its ticks with plain numbers that do not overprint (fig8: the subset sizes)."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from PIL import Image
from synthetic_sat import planted_sat

from satsim.analysis.cluster_profiles import cluster_members
from satsim.analysis.clusters import spectral_clusters, tsne_embedding
from satsim.figures.fig1 import LABEL_GID, fig1_tsne
from satsim.figures.fig2 import fig2_heatmap, off_diagonal_range
from satsim.figures.fig8 import fig8_images_needed
from satsim.figures.labels import place_labels
from satsim.figures.style import MIN_FONT_PT, PNG_DPI, save_figure
from satsim.models.registry import load_registry
from satsim.similarity.uncertainty import default_subset_sizes
from satsim.workflow.atomic import write_csv

REPO = Path(__file__).resolve().parents[1]
N_CLUSTERS = 10


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    """A SAT-like matrix of the paper's 69 models, its clusters as written to and read back from
    clusters.csv, and its t-SNE embedding, from the library's own functions."""
    registry = load_registry(REPO / "configs" / "models" / "paper.yaml")
    components = {name: spec.components for name, spec in registry.items()}
    effects = {"Base architecture": 1.0, "Stem layer": 0.5, "Normalization": 0.3}
    sat = planted_sat(list(registry), components, effects, seed=1, noise=0.15)
    csv = tmp_path_factory.mktemp("analysis") / "clusters.csv"
    write_csv(csv, spectral_clusters(sat, N_CLUSTERS, seed=0).to_frame())
    clusters = pd.read_csv(csv, index_col=0)["cluster"]
    embedding = tsne_embedding(sat, perplexity=10, seed=0)
    return sat, clusters, embedding


def drawn(figure):
    figure.canvas.draw()
    return figure.canvas.get_renderer()


def visible_texts(figure) -> list[Text]:
    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]


def boxes_intersect(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_clusters_are_numbered_from_one_in_the_csv_and_the_tables(paper_run):
    sat, clusters, _ = paper_run
    assert sorted(clusters.unique()) == list(range(1, N_CLUSTERS + 1))
    assert clusters.iloc[0] == 1  # numbered by first appearance
    assert sorted(cluster_members(sat, clusters)["cluster"]) == list(range(1, N_CLUSTERS + 1))


@pytest.fixture(scope="module")
def fig1(paper_run, tmp_path_factory):
    """fig1 drawn at the PNG's resolution, then saved as the workflow saves it."""
    _, clusters, embedding = paper_run
    figure = fig1_tsne(embedding, clusters, "t-SNE of 69 models")
    renderer = drawn(figure)
    axis = figure.axes[0]
    labels = [t for t in axis.texts if t.get_gid() == LABEL_GID]
    drawing = SimpleNamespace(
        figure=figure,
        axis=axis,
        labels=labels,
        boxes=[t.get_window_extent(renderer) for t in labels],
        frame=axis.get_window_extent(renderer),
        legend=axis.get_legend().get_window_extent(renderer),
        saved=figure.get_tightbbox(renderer),  # inches, what bbox_inches="tight" keeps
    )
    out = tmp_path_factory.mktemp("figures")
    save_figure(figure, out / "fig1.pdf", out / "fig1.png")
    drawing.png = out / "fig1.png"
    return drawing


def test_fig1_labels_overlap_nothing_and_stay_inside_the_axes(paper_run, fig1):
    _, _, embedding = paper_run
    assert fig1.figure.dpi == PNG_DPI  # measured at the resolution the PNG is saved at
    labels, boxes, frame = fig1.labels, fig1.boxes, fig1.frame
    assert sorted(t.get_text() for t in labels) == sorted(embedding.index)
    outside = [
        t.get_text()
        for t, b in zip(labels, boxes, strict=True)
        if not frame.contains(b.x0, b.y0) or not frame.contains(b.x1, b.y1)
    ]
    assert not outside
    overlapping = [
        (labels[i].get_text(), labels[j].get_text())
        for i, j in combinations(range(len(labels)), 2)
        if boxes_intersect(boxes[i], boxes[j])
    ]
    assert not overlapping
    # No label hides a marker (a marker is a disc of the scatter's size around its point).
    points = fig1.axis.transData.transform(embedding[["x", "y"]].to_numpy(float))
    radius = np.sqrt(36.0) / 2 * PNG_DPI / 72
    for text, box in zip(labels, boxes, strict=True):
        dx = np.maximum(np.maximum(box.x0 - points[:, 0], points[:, 0] - box.x1), 0)
        dy = np.maximum(np.maximum(box.y0 - points[:, 1], points[:, 1] - box.y1), 0)
        assert np.hypot(dx, dy).min() >= radius, text.get_text()
    assert not boxes_intersect(fig1.legend, frame)  # the legend sits beside the data
    assert min(t.get_fontsize() for t in visible_texts(fig1.figure)) >= MIN_FONT_PT
    # The saved PNG is the tight box around all of that (0.1 in padding) at PNG_DPI: the
    # axes, and so every label, lie inside it, at the size measured here.
    with Image.open(fig1.png) as png:
        size = np.array(png.size)
    expected = (np.array([fig1.saved.width, fig1.saved.height]) + 0.2) * PNG_DPI
    assert np.abs(size - expected).max() <= 2
    inches = fig1.frame.transformed(fig1.figure.dpi_scale_trans.inverted())
    assert fig1.saved.contains(inches.x0, inches.y0) and fig1.saved.contains(inches.x1, inches.y1)


def test_fig1_legend_numbers_the_clusters_as_the_csv_does_and_is_reproducible(paper_run, fig1):
    _, clusters, embedding = paper_run
    legend = [t.get_text() for t in fig1.axis.get_legend().get_texts()]
    assert legend == [f"cluster {n}" for n in sorted(clusters.unique())]
    again = fig1_tsne(embedding, clusters, "t-SNE of 69 models")
    positions = [t.get_position() for t in again.axes[0].texts if t.get_gid() == LABEL_GID]
    assert positions == [t.get_position() for t in fig1.labels]
    plt.close(again)


def test_fig2_is_readable_and_scaled_to_the_off_diagonal_values(paper_run):
    sat, clusters, _ = paper_run
    figure = fig2_heatmap(sat, clusters, "SAT matrix (69 models)")
    drawn(figure)
    heatmap = next(axis for axis in figure.axes if axis.images)
    image = heatmap.images[0]
    values = sat.to_numpy(float)
    off = values[~np.eye(len(sat), dtype=bool)]
    assert image.get_clim() == off_diagonal_range(sat) == (off.min(), off.max())
    assert np.diag(np.ma.getmaskarray(image.get_array())).all()  # diagonal drawn apart (grey)
    assert not np.ma.getmaskarray(image.get_array())[~np.eye(len(sat), dtype=bool)].any()
    ticks = [t for axis in figure.axes for t in axis.get_xticklabels() + axis.get_yticklabels()]
    names = {t.get_text() for t in ticks}
    assert set(sat.index) <= names
    assert min(t.get_fontsize() for t in visible_texts(figure)) >= MIN_FONT_PT
    # The cluster strips carry the CSV's numbers.
    strip_numbers = {
        t.get_text() for axis in figure.axes if axis is not heatmap for t in axis.texts
    }
    assert strip_numbers == {str(n) for n in clusters.unique()}


def test_placement_separates_coincident_and_crowded_points():
    rng = np.random.default_rng(0)
    points = np.vstack([rng.normal(500, 60, (30, 2)), np.full((5, 2), 500.0)])
    sizes = np.column_stack([rng.uniform(60, 200, len(points)), np.full(len(points), 20.0)])
    frame = (0.0, 0.0, 1200.0, 900.0)
    boxes, _ = place_labels(points, sizes, frame, marker_radius=8.0, pad=3.0)
    assert np.allclose(boxes[:, 2:] - boxes[:, :2], sizes)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 1200).all() and (boxes[:, 3] <= 900).all()
    for i, j in combinations(range(len(boxes)), 2):
        a, b = boxes[i], boxes[j]
        assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (i, j)
    again, _ = place_labels(points, sizes, frame, marker_radius=8.0, pad=3.0)
    assert np.array_equal(boxes, again)


def images_needed(sizes: list[int]) -> pd.DataFrame:
    """An images-needed curve over ``sizes`` (the values do not matter to the axis)."""
    n = len(sizes)
    values = np.linspace(0.5, 1.0, n)
    return pd.DataFrame(
        {"n_images": sizes, "spearman": values, "median_ci_width": values[::-1], "ari": values}
    )


# Every figure module that draws a log axis, with the tick values each drawing must show: the
# default grids of the tiny run (96 images), the paper's 2,000 and 5,000 and a larger set, and a
# user's own sizes. A new figure with a log axis is added here (the next test says so).
LOG_AXIS_FIGURES = {
    "fig8": [
        *(default_subset_sizes(n) for n in (96, 2000, 5000, 50000)),
        [50, 96],
        [100, 110, 120, 1000],  # crowded: some sizes keep their tick but lose the label
    ],
}
LOG_AXIS_DRAWINGS = {"fig8": lambda sizes: fig8_images_needed(images_needed(sizes), "fig8")}
FIGURES_SRC = REPO / "src" / "satsim" / "figures"


def test_every_figure_with_a_log_axis_has_its_tick_labels_checked():
    log_scale = re.compile(r"set_[xy]scale\(\s*[\"']log|loglog\(|semilog[xy]\(")
    drawing_log = {p.stem for p in FIGURES_SRC.glob("*.py") if log_scale.search(p.read_text())}
    assert drawing_log == set(LOG_AXIS_FIGURES) == set(LOG_AXIS_DRAWINGS)


@pytest.mark.parametrize(
    ("name", "ticks"),
    [(name, ticks) for name, grids in LOG_AXIS_FIGURES.items() for ticks in grids],
)
def test_log_axes_label_their_ticks_with_plain_numbers_that_do_not_overlap(name, ticks):
    figure = LOG_AXIS_DRAWINGS[name](ticks)
    renderer = drawn(figure)
    log_axes = [
        (axis.xaxis if scale == "x" else axis.yaxis)
        for axis in figure.axes
        for scale in "xy"
        if (axis.get_xscale() if scale == "x" else axis.get_yscale()) == "log"
    ]
    assert log_axes
    for log_axis in log_axes:
        labels = [
            t
            for t in log_axis.get_ticklabels(minor=False) + log_axis.get_ticklabels(minor=True)
            if t.get_visible() and t.get_text()
        ]
        texts = [t.get_text() for t in labels]
        # Plain numbers ("250"), not matplotlib's minor labels ("3×10¹", mathtext).
        assert all(re.fullmatch(r"\d+", text) for text in texts), texts
        assert {int(text) for text in texts} <= set(ticks) and str(max(ticks)) in texts
        boxes = [t.get_window_extent(renderer) for t in labels]
        overlapping = [
            (texts[i], texts[j])
            for i, j in combinations(range(len(boxes)), 2)
            if boxes_intersect(boxes[i], boxes[j])
        ]
        assert not overlapping, overlapping
        assert min(t.get_fontsize() for t in labels) >= MIN_FONT_PT
    plt.close(figure)
