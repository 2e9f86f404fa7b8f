"""The project's figures (numbering in DESIGN.md): fig1 t-SNE by cluster, fig2 SAT heatmap.

Both are sized for the paper's 69 models: every text is at least :data:`MIN_FONT_PT` points at
the saved size, fig1's point labels are placed so that none overlaps another label or a marker
(:func:`place_labels`), and fig2's colour scale spans the off-diagonal values only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from mpl_toolkits.axes_grid1 import make_axes_locatable  # noqa: E402

from satsim.atomic import atomic_path  # noqa: E402

# Fixed metadata keeps PDF bytes reproducible (no creation date).
_PDF_METADATA = {"CreationDate": None, "Creator": "satsim", "Producer": None}
PNG_DPI = 200
MIN_FONT_PT = 6.0
LABEL_GID = "model-label"  # fig1's point labels, for tests and readers of the figure
LEADER_GID = "model-label-leader"
_LABEL_PT = 7.0
_MARKER_AREA = 36.0  # scatter size, points²
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


# --- fig1 label placement -------------------------------------------------------------------


def _boxes_overlap(boxes: np.ndarray, obstacles: np.ndarray) -> np.ndarray:
    """(k, m) whether box i (x0, y0, x1, y1) intersects obstacle j."""
    if not len(obstacles):
        return np.zeros((len(boxes), 0), dtype=bool)
    b, o = boxes[:, None, :], obstacles[None, :, :]
    return (
        (b[..., 0] < o[..., 2])
        & (o[..., 0] < b[..., 2])
        & (b[..., 1] < o[..., 3])
        & (o[..., 1] < b[..., 3])
    )


def _segments_cross(segments: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(k, m) whether segment i (x0, y0, x1, y1) passes through box j (Liang-Barsky clipping)."""
    if not len(segments) or not len(boxes):
        return np.zeros((len(segments), len(boxes)), dtype=bool)
    start = segments[:, None, :2]
    delta = segments[:, None, 2:] - start
    low, high = boxes[None, :, :2], boxes[None, :, 2:]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_low, t_high = (low - start) / delta, (high - start) / delta
    t_in, t_out = np.minimum(t_low, t_high), np.maximum(t_low, t_high)
    parallel = delta == 0  # then the segment is inside the slab on that axis or misses the box
    inside = (start > low) & (start < high)
    t_in = np.where(parallel, np.where(inside, -np.inf, np.inf), t_in)
    t_out = np.where(parallel, np.where(inside, np.inf, -np.inf), t_out)
    enter, leave = t_in.max(axis=-1), t_out.min(axis=-1)
    return (enter < leave) & (leave > 0) & (enter < 1)


def _box_distances(boxes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(k, m) distance from box i (x0, y0, x1, y1) to point j (zero inside)."""
    b, p = boxes[:, None, :], points[None, :, :]
    dx = np.maximum(np.maximum(b[..., 0] - p[..., 0], p[..., 0] - b[..., 2]), 0.0)
    dy = np.maximum(np.maximum(b[..., 1] - p[..., 1], p[..., 1] - b[..., 3]), 0.0)
    return np.hypot(dx, dy)


def _candidate_centres(
    point: np.ndarray, size: np.ndarray, gap: float, n_angles: int
) -> tuple[np.ndarray, np.ndarray]:
    """Centres of a box of ``size`` (w, h) whose edge lies ``gap`` from ``point`` along rays at
    ``n_angles`` angles, right and left first, then the directions nearer horizontal; and the
    point of each box nearest ``point`` (where a leader line ends)."""
    angles = np.arange(n_angles) * (2 * np.pi / n_angles)
    angles = angles[np.lexsort((angles, np.round(np.abs(np.sin(angles)), 9)))]
    unit = np.column_stack([np.cos(angles), np.sin(angles)])
    with np.errstate(divide="ignore"):
        reach = np.minimum(size[0] / 2 / np.abs(unit[:, 0]), size[1] / 2 / np.abs(unit[:, 1]))
    centres = point + unit * (gap + reach)[:, None]
    nearest = np.clip(point, centres - size / 2, centres + size / 2)
    return centres, nearest


def _segments_intersect(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(k, m) whether segment i of ``first`` properly crosses segment j of ``second``."""
    if not len(first) or not len(second):
        return np.zeros((len(first), len(second)), dtype=bool)
    a, b = first[:, None, :2], first[:, None, 2:]
    c, d = second[None, :, :2], second[None, :, 2:]

    def side(p, q, r):
        return np.sign(
            (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1])
            - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])
        )

    return (side(a, b, c) * side(a, b, d) < 0) & (side(c, d, a) * side(c, d, b) < 0)


def _ambiguous(boxes: np.ndarray, own_distance: np.ndarray, others: np.ndarray, slack: float):
    """Whether some point of ``others`` is within ``own_distance + slack`` of each box: the box
    would not clearly belong to its own point without a leader line."""
    if not len(others):
        return np.zeros(len(boxes), dtype=bool)
    return _box_distances(boxes, others).min(axis=1) < own_distance + slack


# Positions next to a point, in order of preference: right, left, the four corners, above,
# below (as multiples of the gap between point and box, and of the box's half-size).
_ADJACENT = np.array(
    [
        [(1, 0), (1, 0)],
        [(-1, 0), (-1, 0)],
        [(1, 1), (1, 1)],
        [(1, -1), (1, -1)],
        [(-1, 1), (-1, 1)],
        [(-1, -1), (-1, -1)],
        [(0, 1), (0, 1)],
        [(0, -1), (0, -1)],
    ],
    dtype=float,
)


def place_labels(
    points: np.ndarray,
    sizes: np.ndarray,
    frame: Sequence[float],
    marker_radius: float,
    pad: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic, greedy label placement in display units.

    ``points`` (n, 2) are the markers, ``sizes`` (n, 2) the labels' widths and heights, ``frame``
    (x0, y0, x1, y1) the area every label must lie in. A candidate box is *clear* when it lies in
    ``frame`` and, grown by ``pad``, overlaps no placed label, no marker and no leader line; it
    is *clean* when, besides, the leader line it would need (when it is away from its point, or
    nearer another point than its own) crosses no placed label, leader line or other marker,
    and it does not lie towards a marker that overlaps its own (60 degrees or more from it).

    Labels are placed most crowded point first (ties in input order). Each takes the first clean
    one of eight positions next to its point (right, left, the corners, above, below) that needs
    no leader; else the first clean candidate on rings of increasing distance around its point;
    else, within twice the distance of the first clear one, that one (its leader may cross
    something); else the first candidate clear of labels. Labels never overlap each other or
    leave the frame.

    Returns the boxes (n, 4: x0, y0, x1, y1) and the leader segments (n, 4; NaN where none)."""
    points, sizes = np.asarray(points, float), np.asarray(sizes, float)
    n = len(points)
    frame = np.asarray(frame, float)
    grow = np.array([-pad, -pad, pad, pad])
    slack = marker_radius + pad
    markers = np.hstack([points - slack, points + slack])
    boxes = np.full((n, 4), np.nan)
    leaders = np.full((n, 4), np.nan)
    distances = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    crowding = (distances < np.median(sizes[:, 0])).sum(axis=1)
    order = np.lexsort((np.arange(n), -crowding))
    step = max(float(np.median(sizes[:, 1])) * 0.6, 1.0)
    first_gap = marker_radius + 2 * pad + 0.5
    adjacent = 1.5 * first_gap  # nearer than this to its point, a label needs no leader
    max_gap = float(np.hypot(frame[2] - frame[0], frame[3] - frame[1]))

    def leader_segments(point, ends):
        offset = ends - point
        length = np.maximum(np.hypot(offset[:, 0], offset[:, 1]), 1e-9)
        return np.hstack([point + offset / length[:, None] * marker_radius, ends]), length

    def check(index, candidates, nearest, clean: bool, avoid_markers=True, leader_ok=True):
        """Which candidates (boxes, nearest points) for label ``index`` are clear (or clean,
        and, unless ``leader_ok``, need no leader)."""
        point = points[index]
        placed = ~np.isnan(boxes[:, 0])
        placed_boxes = boxes[placed] + grow
        placed_leaders = leaders[placed & ~np.isnan(leaders[:, 0])]
        grown = candidates + grow
        ok = (candidates[:, :2] >= frame[:2]).all(axis=1)
        ok &= (candidates[:, 2:] <= frame[2:]).all(axis=1)
        ok &= ~_boxes_overlap(grown, placed_boxes).any(axis=1)
        if avoid_markers:
            ok &= ~_boxes_overlap(grown, markers).any(axis=1)
            ok &= ~_segments_cross(placed_leaders, grown).any(axis=0)
        if not clean or not ok.any():
            return ok
        (alive,) = np.nonzero(ok)  # the costly tests, on what is left
        # Markers overlapping this one neither obstruct its leader (which may start inside them)
        # nor can be told apart from it by any placement.
        far = distances[index] > 2 * marker_radius
        close = ~far & (distances[index] > 0)
        segments, length = leader_segments(point, nearest[alive])
        lead = (length > adjacent) | _ambiguous(grown[alive], length, points[far], slack)
        crosses = _segments_cross(segments, placed_boxes).any(axis=1)
        crosses |= _segments_cross(segments, markers[far]).any(axis=1)
        crosses |= _segments_intersect(segments, placed_leaders).any(axis=1)
        towards = (nearest[alive] - point) / length[:, None]
        others = points[close] - point
        others /= np.hypot(others[:, 0], others[:, 1])[:, None]
        ok[alive] = ~(lead & crosses) & (towards @ others.T <= 0.5).all(axis=1)
        if not leader_ok:
            ok[alive] &= ~lead
        return ok

    def place(index, box):
        boxes[index] = box
        point = points[index]
        segment, length = leader_segments(point, np.clip(point, box[:2], box[2:])[None, :])
        far = distances[index] > 2 * marker_radius
        if length[0] > adjacent or _ambiguous(box[None, :] + grow, length, points[far], slack)[0]:
            leaders[index] = segment[0]

    def ring(index, gap):
        n_angles = int(max(16, 8 * np.ceil(2 * np.pi * gap / step / 8)))
        centres, nearest = _candidate_centres(points[index], sizes[index], gap, n_angles)
        half = sizes[index] / 2
        return np.hstack([centres - half, centres + half]), nearest

    def next_to(index):
        half = sizes[index] / 2
        centres = points[index] + _ADJACENT[:, 0] * first_gap + _ADJACENT[:, 1] * half
        candidates = np.hstack([centres - half, centres + half])
        nearest = np.clip(points[index], candidates[:, :2], candidates[:, 2:])
        ok = check(index, candidates, nearest, clean=True, leader_ok=False)
        if ok.any():
            place(index, candidates[int(np.argmax(ok))])
            return True
        return False

    for index in order:
        if next_to(index):
            continue
        chosen = fallback = None
        gap, limit = first_gap, max_gap
        while chosen is None and gap <= limit:
            candidates, nearest = ring(index, gap)
            clear = check(index, candidates, nearest, clean=False)
            if fallback is None and clear.any():
                fallback, limit = (
                    candidates[int(np.argmax(clear))],
                    min(max_gap, 2 * gap + 8 * step),
                )
            ok = check(index, candidates, nearest, clean=True) if clear.any() else clear
            if ok.any():
                chosen = candidates[int(np.argmax(ok))]
            gap += max(step, 0.12 * (gap - first_gap))  # finer near the point
        chosen = fallback if chosen is None else chosen
        gap = first_gap
        while chosen is None and gap <= max_gap:  # last resort: a label may cover a marker
            candidates, nearest = ring(index, gap)
            ok = check(index, candidates, nearest, clean=False, avoid_markers=False)
            if ok.any():
                chosen = candidates[int(np.argmax(ok))]
            gap += max(step, 0.12 * (gap - first_gap))
        if chosen is None:
            raise ValueError(f"no room for the label of point {index}; enlarge the figure")
        place(index, chosen)
    return boxes, leaders


def fig1_tsne(embedding: pd.DataFrame, clusters: pd.Series, title: str) -> Figure:
    """t-SNE of the models from SAT, coloured by spectral cluster, each point labelled.

    Labels are placed by :func:`place_labels` at the PNG's resolution: none overlaps another
    label or a marker, all lie inside the axes, and a thin line joins a displaced label to its
    point."""
    clusters = clusters.reindex(embedding.index)
    colors = cluster_colors(clusters)
    n_models = len(embedding)
    width = float(np.clip(4.5 + 0.085 * n_models, 6.0, 11.0))
    figure = plt.figure(figsize=(width + 1.6, width * 0.72), dpi=PNG_DPI)
    axis = figure.add_axes((0.07, 0.08, width / (width + 1.6) - 0.08, 0.85))
    for number, color in colors.items():
        members = clusters.index[clusters == number]
        axis.scatter(
            embedding.loc[members, "x"],
            embedding.loc[members, "y"],
            s=_MARKER_AREA,
            color=color,
            edgecolor="black",
            linewidth=0.4,
            label=f"cluster {number}",
            zorder=3,
        )
    x, y = embedding["x"].to_numpy(float), embedding["y"].to_numpy(float)
    span_x, span_y = np.ptp(x) or 1.0, np.ptp(y) or 1.0
    axis.set_xlim(x.min() - 0.12 * span_x, x.max() + 0.12 * span_x)
    axis.set_ylim(y.min() - 0.06 * span_y, y.max() + 0.06 * span_y)
    axis.set_xlabel("t-SNE dimension 1 (arbitrary units)", fontsize=8)
    axis.set_ylabel("t-SNE dimension 2 (arbitrary units)", fontsize=8)
    axis.tick_params(labelsize=7)
    axis.set_title(title, fontsize=9)
    axis.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=7,
        title="spectral cluster",
        title_fontsize=7,
        borderaxespad=0.0,
    )
    axis.grid(alpha=0.25, linewidth=0.5)

    renderer = figure.canvas.get_renderer()
    labels = [
        axis.text(0, 0, str(model), fontsize=_LABEL_PT, ha="center", va="center", gid=LABEL_GID)
        for model in embedding.index
    ]
    # Room for 4 % more than the PNG's text: the PDF's unhinted glyphs run up to ~3 % wider.
    sizes = 1.04 * np.array(
        [[(e := t.get_window_extent(renderer)).width, e.height] for t in labels]
    )
    points = axis.transData.transform(np.column_stack([x, y]))
    pixels_per_point = figure.dpi / 72.0
    frame = axis.get_window_extent(renderer)
    inset = 2 * pixels_per_point
    boxes, leaders = place_labels(
        points,
        sizes,
        (frame.x0 + inset, frame.y0 + inset, frame.x1 - inset, frame.y1 - inset),
        marker_radius=np.sqrt(_MARKER_AREA) / 2 * pixels_per_point,
        pad=1.5 * pixels_per_point,
    )
    to_data = axis.transData.inverted()
    for text, box, leader in zip(labels, boxes, leaders, strict=True):
        text.set_position(to_data.transform([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]))
        if not np.isnan(leader[0]):
            ends = to_data.transform(leader.reshape(2, 2))
            axis.plot(ends[:, 0], ends[:, 1], color="0.45", linewidth=0.5, zorder=2, gid=LEADER_GID)
    return figure


# --- fig2 -----------------------------------------------------------------------------------


def off_diagonal_range(sat: pd.DataFrame) -> tuple[float, float]:
    """The smallest and largest SAT between two different models (fig2's colour limits)."""
    values = sat.to_numpy(dtype=float)
    off = values[~np.eye(len(values), dtype=bool)]
    return float(np.nanmin(off)), float(np.nanmax(off))


def _text_color(color) -> str:
    red, green, blue = to_rgb(color)
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def fig2_heatmap(sat: pd.DataFrame, clusters: pd.Series, title: str) -> Figure:
    """The SAT matrix ordered by cluster, with cluster boundaries drawn.

    The colour scale spans the off-diagonal values; the diagonal (ln of the white-box success
    rate, about 4.6) is drawn grey. A strip along the left and bottom edges gives each model's
    cluster number in fig1's colours."""
    order = clusters.reindex(sat.index).sort_values(kind="stable").index
    ordered = sat.loc[order, order].to_numpy(dtype=float)
    numbers = clusters.loc[order].to_numpy()
    n_models = len(order)
    cell = 0.15 if n_models > 30 else 0.3 if n_models > 8 else 0.5  # inches per model
    fontsize = 7 if n_models > 30 else 8
    side = max(cell * n_models, 3.5)
    figure = plt.figure(figsize=(side + 3.2, side + 2.4))
    axis = figure.add_axes(
        (1.9 / (side + 3.2), 1.9 / (side + 2.4), side / (side + 3.2), side / (side + 2.4))
    )
    masked = np.ma.masked_where(np.eye(n_models, dtype=bool) | np.isnan(ordered), ordered)
    cmap = plt.get_cmap("viridis").with_extremes(bad=DIAGONAL_COLOR)
    low, high = off_diagonal_range(sat)
    image = axis.imshow(
        masked, cmap=cmap, vmin=low, vmax=high, interpolation="nearest", aspect="equal"
    )
    divider = make_axes_locatable(axis)
    strip_size = 0.16
    left = divider.append_axes("left", size=strip_size, pad=0.0, sharey=axis)
    bottom = divider.append_axes("bottom", size=strip_size, pad=0.0, sharex=axis)
    colorbar_axis = divider.append_axes("right", size=0.18, pad=0.12)
    colorbar = figure.colorbar(image, cax=colorbar_axis)
    colorbar.set_label(
        "SAT = ln(transfer rate in %), between different models\n"
        "(diagonal: white-box success, shown grey)",
        fontsize=fontsize + 1,
    )
    colorbar.ax.tick_params(labelsize=fontsize)
    colors = cluster_colors(clusters)
    edges = np.flatnonzero(np.diff(numbers)) + 1
    for start, stop in zip(np.r_[0, edges], np.r_[edges, n_models], strict=True):
        number = int(numbers[start])
        color, middle = colors[number], (start + stop - 1) / 2
        left.axhspan(start - 0.5, stop - 0.5, color=color, linewidth=0)
        bottom.axvspan(start - 0.5, stop - 0.5, color=color, linewidth=0)
        style = {"ha": "center", "va": "center", "fontsize": MIN_FONT_PT + 1}
        style["color"] = _text_color(color)
        left.text(0.5, middle, str(number), transform=left.get_yaxis_transform(), **style)
        bottom.text(middle, 0.5, str(number), transform=bottom.get_xaxis_transform(), **style)
    for boundary in edges - 0.5:
        axis.axhline(boundary, color="white", linewidth=1.0)
        axis.axvline(boundary, color="white", linewidth=1.0)
    axis.set_xlim(-0.5, n_models - 0.5)
    axis.set_ylim(n_models - 0.5, -0.5)
    axis.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)
    left.set_xticks([])
    bottom.set_yticks([])
    left.set_yticks(range(n_models), order, fontsize=fontsize)
    bottom.set_xticks(range(n_models), order, rotation=90, fontsize=fontsize)
    left.set_ylabel("model (ordered by spectral cluster)", fontsize=fontsize + 1)
    bottom.set_xlabel(
        "model (ordered by spectral cluster; coloured strips: cluster number as in fig1)",
        fontsize=fontsize + 1,
    )
    axis.set_title(title, fontsize=fontsize + 2)
    return figure
