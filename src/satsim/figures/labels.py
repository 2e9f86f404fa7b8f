"""fig1's point labels: place each label so that none overlaps another label or a marker."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
