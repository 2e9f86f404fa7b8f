"""How certain a SAT matrix is: the bootstrap over eval images, and how many images it needs.

SAT (Hwang et al., ECCV 2024; see :mod:`satsim.similarity.sat`) is a ratio of counts over the
eval images. Every count is a sum over images, so recounting with per-image weights ``w`` (one
weight per eval image) gives the SAT of a reweighted image set; the bootstrap (Efron 1979) draws
the weights as multinomial counts, i.e. resamples the images with replacement. One replicate
uses ONE resample for all pairs, so each replicate is a whole N x N matrix and anything computed
from a matrix (clusters, rankings) can be bootstrapped too.

The counts are ``weights @ masks``: ``weights`` is (R, n_images), ``masks`` is (n_images, P)
with P = N (N + 1) / 2 unordered pairs (diagonal included), so R replicates of all pairs cost one
matrix product and no Python loop over pairs. At paper scale (69 models, 5,000 images,
1,000 replicates) that is a (1000 x 5000) @ (5000 x 7245) float32 product.

Units: SAT in ln(percent) as in ``sat.py``; rates in percent.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import ThreadpoolController  # a scikit-learn dependency

from satsim.analysis.clusters import spectral_clusters
from satsim.similarity.sat import fooled_masks, measured_cells

# Replicates are drawn in blocks, each from its own child of the seed's SeedSequence, so
# replicate r is the same whatever n_boot (as long as n_boot > r) and whatever the memory chunking.
_BLOCK = 64
# float32 sums of integer weights times 0/1 masks are exact below 2**24.
_EXACT_FLOAT32 = 2**24
# Weighted recounts below this many multiply-adds run on one BLAS thread.
_SMALL_PRODUCT = 50_000_000


@functools.cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


@dataclass(frozen=True)
class PairOutcomes:
    """Per-image outcomes of every unordered pair (A, B), A <= B in model order, diagonal included.

    Pair ``p`` is models ``rows[p]`` (A) and ``cols[p]`` (B), in the order of
    ``np.triu_indices(N)`` (the order of ``sat_matrix``'s pair table). All masks are
    (n_images, P) booleans, image-major so that ``weights @ mask`` recounts every pair at once:

    - ``in_common[i, p]``: image i is in X_AB (both A and B classify it correctly).
    - ``fooled_a_to_b[i, p]``: i is in X_AB and its adversarial image made on A fools B.
    - ``fooled_b_to_a[i, p]``: i is in X_AB and its adversarial image made on B fools A.

    On the diagonal (A = B) both fooled masks are A's white-box success on its correct images.
    """

    models: tuple[str, ...]
    rows: np.ndarray
    cols: np.ndarray
    in_common: np.ndarray
    fooled_a_to_b: np.ndarray
    fooled_b_to_a: np.ndarray

    @property
    def n_images(self) -> int:
        return int(self.in_common.shape[0])

    @property
    def n_models(self) -> int:
        return len(self.models)


def pair_outcomes(
    labels: np.ndarray,
    clean_pred: Mapping[str, np.ndarray],
    adv_index: Mapping[str, np.ndarray],
    transfer_pred: Mapping[tuple[str, str], np.ndarray],
    models: Sequence[str] | None = None,
    partial: bool = False,
) -> PairOutcomes:
    """The per-image outcomes behind :func:`satsim.similarity.sat.sat_matrix`, from its inputs.

    Args: as ``sat_matrix`` (labels (n_images,), clean_pred model -> (n_images,), adv_index
    source -> (M_s,) image positions, transfer_pred (source, target) -> (M_s,) predictions).
    Correctness and fooling come from ``sat.fooled_masks``, the same code ``sat_matrix`` counts,
    so unit weights reproduce ``sat_matrix`` exactly (:func:`sat_from_weights`). With
    ``partial`` (an adaptive run) the pairs are the measured cells only; the matrices made from
    them are NaN elsewhere.
    """
    labels = np.asarray(labels)
    models = list(models if models is not None else clean_pred)
    correct = {m: np.asarray(clean_pred[m]) == labels for m in models}
    fooled = fooled_masks(labels, correct, adv_index, transfer_pred, models, partial)
    n_models, n_images = len(models), len(labels)
    rows, cols = np.triu_indices(n_models)
    if partial:
        keep = measured_cells(fooled, models)[rows, cols]
        rows, cols = rows[keep], cols[keep]
    correct_stack = np.stack([correct[m] for m in models]) if models else np.zeros((0, n_images))
    position = {m: i for i, m in enumerate(models)}
    fooled_stack = np.zeros((n_models, n_models, n_images), dtype=bool)
    for (source, target), mask in fooled.items():
        fooled_stack[position[source], position[target]] = mask
    in_common = (correct_stack[rows] & correct_stack[cols]).T  # (n_images, P)
    return PairOutcomes(
        models=tuple(models),
        rows=rows,
        cols=cols,
        in_common=np.ascontiguousarray(in_common),
        fooled_a_to_b=np.ascontiguousarray(fooled_stack[rows, cols].T & in_common),
        fooled_b_to_a=np.ascontiguousarray(fooled_stack[cols, rows].T & in_common),
    )


def _pool(n_images: int, images: np.ndarray | None) -> np.ndarray:
    pool = np.arange(n_images) if images is None else np.asarray(images, dtype=np.int64)
    if pool.ndim != 1 or pool.size == 0:
        raise ValueError("images must be a non-empty 1-D array of image positions")
    if pool.min() < 0 or pool.max() >= n_images:
        raise ValueError(f"images must be positions in [0, {n_images})")
    return pool


def _weight_rows(n_images: int, seed: int, pool: np.ndarray, start: int, stop: int) -> np.ndarray:
    # Rows start..stop of bootstrap_weights: block b (rows 64 b .. 64 b + 63) always draws all 64
    # rows from the b-th child seed, so a row never depends on n_boot or on the chunking.
    first_block, n_blocks = start // _BLOCK, -(-stop // _BLOCK)
    children = np.random.SeedSequence(seed).spawn(n_blocks)
    parts = []
    for block in range(first_block, n_blocks):
        lo, hi = max(start, block * _BLOCK), min(stop, (block + 1) * _BLOCK)
        draws = np.random.default_rng(children[block]).integers(
            0, len(pool), size=(_BLOCK, len(pool)), dtype=np.int32
        )
        drawn = pool[draws[lo - block * _BLOCK : hi - block * _BLOCK]]
        offsets = np.arange(hi - lo)[:, None] * n_images
        counts = np.bincount((drawn + offsets).ravel(), minlength=(hi - lo) * n_images)
        parts.append(counts.reshape(hi - lo, n_images).astype(np.int32))
    return np.concatenate(parts) if parts else np.zeros((0, n_images), dtype=np.int32)


def bootstrap_weights(
    n_images: int, n_boot: int, seed: int, images: np.ndarray | None = None
) -> np.ndarray:
    """(n_boot, n_images) int32 multinomial weights: row r counts how often each image was drawn
    when ``len(images)`` images are drawn with replacement from ``images`` (positions; default
    all images). Images outside ``images`` get weight 0; each row sums to ``len(images)``.

    Deterministic given ``seed``; row r does not depend on ``n_boot`` (rows come in blocks of
    64, block b drawn from the b-th child of ``np.random.SeedSequence(seed)``)."""
    return _weight_rows(n_images, seed, _pool(n_images, images), 0, n_boot)


def weighted_counts(
    outcomes: PairOutcomes, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted |X_AB|, fooled A->B and fooled B->A of every pair: three (R, P) float64 arrays.

    ``weights`` is (R, n_images) of non-negative integers (unit weights: ``np.ones((1, n))``).
    One float32 matrix product; exact, since every partial sum is an integer below 2**24."""
    weights = np.atleast_2d(np.asarray(weights))
    if weights.shape[1] != outcomes.n_images:
        raise ValueError(
            f"weights have {weights.shape[1]} columns, the outcomes {outcomes.n_images} images"
        )
    if weights.size and (weights.min() < 0 or weights.sum(axis=1).max() * 2 >= _EXACT_FLOAT32):
        raise ValueError("weights must be non-negative with row sums below 2**23")
    masks = np.concatenate(
        [outcomes.in_common, outcomes.fooled_a_to_b, outcomes.fooled_b_to_a], axis=1
    ).astype(np.float32)
    weights = weights.astype(np.float32)
    if weights.shape[0] * masks.size < _SMALL_PRODUCT:
        # A small product is faster on one BLAS thread: on a busy machine, waking OpenBLAS's
        # threads cost 50x the product itself (measured 16 ms vs 0.3 ms for 1000 x 300 x 18).
        with _threadpools().limit(limits=1, user_api="blas"):
            counts = (weights @ masks).astype(np.float64)
    else:
        counts = (weights @ masks).astype(np.float64)
    n_pairs = len(outcomes.rows)
    return counts[:, :n_pairs], counts[:, n_pairs : 2 * n_pairs], counts[:, 2 * n_pairs :]


def _exact_log(values: np.ndarray) -> np.ndarray:
    # math.log, as sat_from_counts uses: numpy's SIMD log differs from it in the last bit on
    # ~1 in 4,000 values, and unit weights must reproduce sat_matrix bit for bit. ~0.2 us/value.
    flat = np.fromiter(map(math.log, values.ravel().tolist()), dtype=np.float64, count=values.size)
    return flat.reshape(values.shape)


def _sat_upper(n_common: np.ndarray, a_to_b: np.ndarray, b_to_a: np.ndarray, eps_s: float):
    if eps_s <= 0:
        raise ValueError(f"eps_s must be > 0, got {eps_s}")
    empty = n_common == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        # The same floating-point operations as sat_from_counts, on integer-valued floats.
        rate = 100.0 * (a_to_b + b_to_a) / (2.0 * n_common)
    return _exact_log(np.where(empty, eps_s, np.maximum(eps_s, rate)))


def _symmetric(outcomes: PairOutcomes, upper: np.ndarray) -> np.ndarray:
    full = np.full((upper.shape[0], outcomes.n_models, outcomes.n_models), np.nan)
    full[:, outcomes.rows, outcomes.cols] = upper
    full[:, outcomes.cols, outcomes.rows] = upper
    return full


def sat_from_weights(outcomes: PairOutcomes, weights: np.ndarray, eps_s: float) -> np.ndarray:
    """(R, N, N) SAT matrices, ln(percent), recounted with image weights (R, n_images).

    Pairs with zero weighted |X_AB| get ln(eps_s), as in ``sat_from_counts``. Unit weights give
    ``sat_matrix(...).sat`` bit for bit."""
    return _symmetric(outcomes, _sat_upper(*weighted_counts(outcomes, weights), eps_s))


def rates_from_weights(
    outcomes: PairOutcomes, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(transfer_rate, directional_rate), each (R, N, N) percent, recounted with image weights.

    ``transfer_rate`` is symmetric (the argument of SAT's logarithm before the eps_s floor);
    ``directional_rate[r, a, b]`` is the percent of X_AB whose adversarial image made on a fools
    b. Both NaN where the weighted |X_AB| is 0 (as ``sat_matrix``)."""
    n_common, a_to_b, b_to_a = weighted_counts(outcomes, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n_common > 0, 100.0 * (a_to_b + b_to_a) / (2.0 * n_common), np.nan)
        forward = np.where(n_common > 0, 100.0 * a_to_b / n_common, np.nan)
        backward = np.where(n_common > 0, 100.0 * b_to_a / n_common, np.nan)
    directional = np.full((len(mean), outcomes.n_models, outcomes.n_models), np.nan)
    directional[:, outcomes.rows, outcomes.cols] = forward
    directional[:, outcomes.cols, outcomes.rows] = backward  # diagonal: forward == backward
    return _symmetric(outcomes, mean), directional


def _chunks(n_boot: int, n_images: int) -> list[tuple[int, int]]:
    # About 50 MB of float32 weights per chunk, in whole blocks.
    size = max(_BLOCK, (12_500_000 // max(1, n_images)) // _BLOCK * _BLOCK)
    return [(start, min(n_boot, start + size)) for start in range(0, n_boot, size)]


def sat_bootstrap(
    outcomes: PairOutcomes,
    eps_s: float,
    n_boot: int,
    seed: int,
    images: np.ndarray | None = None,
) -> np.ndarray:
    """(n_boot, N, N) bootstrap replicates of the SAT matrix, ln(percent).

    Replicate r resamples the eval images (or ``images``, a subset of positions) with
    replacement, the same resample for every pair, and recounts (:func:`sat_from_weights`).
    Deterministic given ``seed``; the weights are those of :func:`bootstrap_weights`, so
    :func:`rate_bootstrap` with the same seed resamples the same images."""
    pool = _pool(outcomes.n_images, images)
    replicates = np.empty((n_boot, outcomes.n_models, outcomes.n_models))
    for start, stop in _chunks(n_boot, outcomes.n_images):
        weights = _weight_rows(outcomes.n_images, seed, pool, start, stop)
        replicates[start:stop] = sat_from_weights(outcomes, weights, eps_s)
    return replicates


def rate_bootstrap(
    outcomes: PairOutcomes, n_boot: int, seed: int, images: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates (n_boot, N, N) of (transfer_rate, directional_rate), percent; the
    resamples of :func:`sat_bootstrap` with the same seed. NaN where a resample's X_AB is empty."""
    mean = np.empty((n_boot, outcomes.n_models, outcomes.n_models))
    directional = np.empty_like(mean)
    pool = _pool(outcomes.n_images, images)
    for start, stop in _chunks(n_boot, outcomes.n_images):
        weights = _weight_rows(outcomes.n_images, seed, pool, start, stop)
        mean[start:stop], directional[start:stop] = rates_from_weights(outcomes, weights)
    return mean, directional


def sat_intervals(replicates: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval per entry: (low, high), each (N, N), in the replicates'
    units; ``level`` = 0.95 takes the 2.5th and 97.5th percentiles (numpy's linear
    interpolation). NaN replicates (empty X_AB in rate replicates) are ignored."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tail = 100.0 * (1.0 - level) / 2.0
    replicates = np.asarray(replicates, dtype=np.float64)
    if not np.isnan(replicates).any():  # np.percentile is ~10x faster than np.nanpercentile
        low, high = np.percentile(replicates, [tail, 100.0 - tail], axis=0)
        return low, high
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN entries stay NaN
        low, high = np.nanpercentile(replicates, [tail, 100.0 - tail], axis=0)
    return low, high


def _frame(matrix: np.ndarray, models: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(matrix, index=pd.Index(list(models), name="model"), columns=list(models))


def completed(matrices: np.ndarray, fill: np.ndarray | None) -> np.ndarray:
    """``matrices`` (R, N, N) with their NaN cells (an adaptive run's unmeasured ones) taken
    from ``fill`` (N, N), the run's estimate; unchanged when ``fill`` is None."""
    if fill is None:
        return matrices
    return np.where(np.isnan(matrices), np.asarray(fill, dtype=float)[None], matrices)


def cluster_stability(
    replicates: np.ndarray,
    clusters: pd.Series | np.ndarray,
    n_clusters: int,
    seed: int,
    fill: np.ndarray | None = None,
) -> np.ndarray:
    """(R,) adjusted Rand index (sklearn) of each replicate's spectral clustering
    (:func:`satsim.analysis.clusters.spectral_clusters` with ``n_clusters`` and ``seed``)
    against ``clusters``, the run's clusters (one label per model, in matrix order). 1 = the
    same partition; ~0 = no more agreement than chance. Clustering runs on one thread
    (BLAS and OpenMP): for tens of models threads only add overhead, and on a busy 2-core machine
    their spin-waiting made one clustering of 69 models take 260 ms instead of 18 ms.

    An adaptive run's replicates resample its measured cells; its unmeasured ones are taken from
    ``fill`` (its estimate, :func:`completed`), so the ARI is the stability due to the images."""
    labels = np.asarray(clusters)
    names = list(clusters.index) if isinstance(clusters, pd.Series) else list(range(len(labels)))
    replicates = completed(np.asarray(replicates), fill)
    if replicates.shape[1:] != (len(labels), len(labels)):
        raise ValueError(f"replicates {replicates.shape} do not match {len(labels)} models")
    scores = np.empty(len(replicates))
    with _threadpools().limit(limits=1):  # see the docstring
        for r, matrix in enumerate(replicates):
            found = spectral_clusters(_frame(matrix, names), n_clusters, seed)
            scores[r] = adjusted_rand_score(labels, found.to_numpy())
    return scores


def nested_subsets(n_images: int, sizes: Sequence[int], seed: int) -> list[np.ndarray]:
    """Image positions of each subset size: the first n of ONE seeded permutation, so every
    smaller subset lies inside every larger one."""
    sizes = [int(n) for n in sizes]
    if any(not 1 <= n <= n_images for n in sizes):
        raise ValueError(f"subset sizes must be in [1, {n_images}], got {sizes}")
    order = np.random.default_rng(np.random.SeedSequence(seed)).permutation(n_images)
    return [np.sort(order[:n]) for n in sizes]


def _measured_upper(outcomes: PairOutcomes) -> tuple[np.ndarray, np.ndarray]:
    """The off-diagonal cells of ``outcomes`` (every pair of models, or the measured ones)."""
    off_diagonal = outcomes.rows != outcomes.cols
    return outcomes.rows[off_diagonal], outcomes.cols[off_diagonal]


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    # Identical rankings: exactly 1 (scipy's sums give 1 - 2e-16). Constant input: NaN.
    if np.array_equal(rankdata(x), rankdata(y)):
        return 1.0 if np.ptp(x) > 0 else float("nan")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def images_needed_curve(
    outcomes: PairOutcomes,
    eps_s: float,
    sizes: Sequence[int],
    seed: int,
    n_boot_small: int,
    n_clusters: int,
    level: float = 0.95,
    fill: np.ndarray | None = None,
) -> pd.DataFrame:
    """How the SAT matrix converges as eval images are added: one row per n in ``sizes``.

    In an adaptive run (``outcomes`` of its measured cells) the Spearman correlation and the
    interval widths are over the measured pairs only, and the clusterings take the unmeasured
    cells from ``fill``, the run's estimate (:func:`completed`).

    The subsets are nested (:func:`nested_subsets` with ``seed``): subset n is the first n
    images of one seeded permutation, so each row adds information to the one before.
    Columns:

    - ``n_images``: n.
    - ``spearman``: Spearman correlation of the subset's SAT with the full matrix's, over the
      off-diagonal upper triangle (N (N - 1) / 2 pairs). Exactly 1 at n = all images.
    - ``median_ci_width``: median over those pairs of the ``level`` percentile bootstrap interval
      width of SAT (ln percent) from ``n_boot_small`` resamples of the subset's n images.
    - ``ari``: adjusted Rand index of the subset matrix's spectral clustering against the full
      matrix's (both ``spectral_clusters(..., n_clusters, seed)``). Exactly 1 at n = all images.
    """
    n_images = outcomes.n_images
    subsets = nested_subsets(n_images, sizes, seed)
    indicator = np.zeros((len(subsets) + 1, n_images), dtype=np.int32)
    indicator[0] = 1
    for row, subset in enumerate(subsets, start=1):
        indicator[row, subset] = 1
    matrices = completed(sat_from_weights(outcomes, indicator, eps_s), fill)
    full = matrices[0]
    upper = _measured_upper(outcomes)
    with _threadpools().limit(limits=1):  # as in cluster_stability
        full_clusters = spectral_clusters(_frame(full, outcomes.models), n_clusters, seed)
    boot_seeds = np.random.SeedSequence(seed).spawn(len(subsets) + 1)[1:]
    rows = []
    for subset, matrix, boot_seed in zip(subsets, matrices[1:], boot_seeds, strict=True):
        replicates = sat_bootstrap(
            outcomes, eps_s, n_boot_small, int(boot_seed.generate_state(1)[0]), subset
        )
        low, high = sat_intervals(replicates, level)
        with _threadpools().limit(limits=1):
            found = spectral_clusters(_frame(matrix, outcomes.models), n_clusters, seed)
        rows.append(
            {
                "n_images": len(subset),
                "spearman": _spearman(matrix[upper], full[upper]),
                "median_ci_width": float(np.median((high - low)[upper])),
                "ari": float(adjusted_rand_score(full_clusters.to_numpy(), found.to_numpy())),
            }
        )
    return pd.DataFrame(rows, columns=["n_images", "spearman", "median_ci_width", "ari"])


__all__ = [
    "PairOutcomes",
    "bootstrap_weights",
    "cluster_stability",
    "images_needed_curve",
    "nested_subsets",
    "pair_outcomes",
    "rate_bootstrap",
    "rates_from_weights",
    "sat_bootstrap",
    "sat_from_weights",
    "sat_intervals",
    "weighted_counts",
]
