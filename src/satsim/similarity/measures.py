"""Other model-similarity measures, to set beside SAT: representation (linear CKA), prediction
agreement, error consistency and input-gradient sign agreement.

Every ``*_matrix`` function takes a mapping model name -> per-model array (all over the same
images, in the same order) and returns a symmetric N x N DataFrame in the mapping's order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

# Bytes of float64 work space a blocked Gram-form cka_matrix may use per block (~256 MB).
_GRAM_BLOCK_BYTES = 256 * 2**20


def _frame(values: np.ndarray, models: list[str]) -> pd.DataFrame:
    return pd.DataFrame(values, index=pd.Index(models, name="model"), columns=models)


def _centred(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be (n_images, n_features), got shape {x.shape}")
    return x - x.mean(axis=0, keepdims=True)


def linear_cka(x: np.ndarray, y: np.ndarray, method: str = "auto") -> float:
    """Linear centred kernel alignment of two representations of the same n images.

    Kornblith, Norouzi, Lee, Hinton, "Similarity of Neural Network Representations Revisited",
    ICML 2019, eq. (5)::

        CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)

    for column-centred X (n, d1) and Y (n, d2); the HSIC-based linear CKA. In [0, 1]; 1 for
    representations equal up to an orthogonal transform and isotropic scaling, invariant to both.

    Args:
        x, y: features (n, d1) and (n, d2), any float dtype (float16 as stored); computed in
            float64 after centring each column.
        method: ``"feature"`` (d x d products, O(n d1 d2)), ``"gram"`` (n x n Gram matrices
            K = X X^T, L = Y Y^T, CKA = <K, L>_F / (||K||_F ||L||_F), O(n^2 (d1 + d2))) or
            ``"auto"``: the Gram form when max(d1, d2) > n, else the feature form. Both give the
            same value (||Y^T X||_F^2 = <X X^T, Y Y^T>_F and ||X^T X||_F = ||X X^T||_F).

    Returns:
        The CKA; NaN when either representation is constant over the images (zero after
        centring), where it is 0 / 0.
    """
    x, y = _centred(x), _centred(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} images, y {y.shape[0]}")
    if method == "auto":
        method = "gram" if max(x.shape[1], y.shape[1]) > x.shape[0] else "feature"
    if method == "feature":
        cross = np.sum((y.T @ x) ** 2)
        norm_x = np.linalg.norm(x.T @ x)
        norm_y = np.linalg.norm(y.T @ y)
    elif method == "gram":
        gram_x, gram_y = x @ x.T, y @ y.T
        cross = np.vdot(gram_x, gram_y)
        norm_x, norm_y = np.linalg.norm(gram_x), np.linalg.norm(gram_y)
    else:
        raise ValueError(f"method must be auto, feature or gram, got {method!r}")
    if norm_x == 0 or norm_y == 0:
        return float("nan")
    return float(cross / (norm_x * norm_y))


def cka_matrix(features: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """N x N linear CKA (:func:`linear_cka`) of every pair of models' features (n, d_m), float64.

    Each model is centred once. The cheaper of two exact forms is used for the whole matrix:
    pairwise feature products (cost n * sum_{a<b} d_a d_b) or row blocks of the n x n centred
    Gram matrices, accumulating <K_a, K_b> for all pairs at once (cost n^2 * sum_m d_m); at paper
    scale (69 models, 5,000 images, d ~ 400-2,048) the Gram form is ~8x fewer operations. Memory:
    the centred float64 features, 8 n sum_m d_m bytes (~3.3 GB at paper scale), plus ~256 MB of
    Gram rows. The diagonal is 1 (NaN for a constant representation)."""
    models = list(features)
    centred = [_centred(features[m]) for m in models]
    n = centred[0].shape[0] if centred else 0
    if any(x.shape[0] != n for x in centred):
        raise ValueError("every model's features must cover the same images")
    dims = np.array([x.shape[1] for x in centred], dtype=np.float64)
    pair_cost = n * (dims.sum() ** 2 - (dims**2).sum()) / 2
    gram_cost = float(n) ** 2 * dims.sum()
    if gram_cost < pair_cost:
        inner = _gram_inner_products(centred)
    else:
        inner = np.empty((len(models), len(models)))
        for a, x in enumerate(centred):
            for b in range(a + 1):
                inner[a, b] = inner[b, a] = np.sum((centred[b].T @ x) ** 2)
    norms = np.sqrt(np.diag(inner))
    with np.errstate(divide="ignore", invalid="ignore"):
        cka = inner / np.outer(norms, norms)
    cka[~np.isfinite(cka)] = np.nan
    return _frame(cka, models)


def _gram_inner_products(centred: list[np.ndarray]) -> np.ndarray:
    """<X_a X_a^T, X_b X_b^T>_F for all pairs, from row blocks of the Gram matrices."""
    n = centred[0].shape[0]
    block = max(1, min(n, _GRAM_BLOCK_BYTES // (8 * n * len(centred))))
    inner = np.zeros((len(centred), len(centred)))
    for start in range(0, n, block):
        rows = np.stack([(x[start : start + block] @ x.T).ravel() for x in centred])
        inner += rows @ rows.T
    return inner


def prediction_agreement(pred_a: np.ndarray, pred_b: np.ndarray) -> float:
    """Fraction of images (in [0, 1]) on which the two models predict the same class.
    ``pred_a``, ``pred_b``: (n,) predicted classes over the same images."""
    pred_a, pred_b = np.asarray(pred_a), np.asarray(pred_b)
    if pred_a.shape != pred_b.shape or pred_a.ndim != 1 or pred_a.size == 0:
        raise ValueError(
            f"predictions must be equal non-empty (n,) arrays: {pred_a.shape}, {pred_b.shape}"
        )
    return float(np.mean(pred_a == pred_b))


def agreement_matrix(predictions: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """N x N :func:`prediction_agreement`; diagonal 1."""
    models = list(predictions)
    stack = np.stack([np.asarray(predictions[m]) for m in models])
    values = np.empty((len(models), len(models)))
    for a in range(len(models)):  # one row of pairs at a time: (N, n) booleans
        values[a] = np.mean(stack == stack[a], axis=1)
    return _frame(values, models)


def _kappa(both_right, both_wrong, right_a, right_b, n):
    # Counts (integers, as float64 arrays): exact up to the final divisions.
    both_right, both_wrong = np.asarray(both_right, float), np.asarray(both_wrong, float)
    right_a, right_b = np.asarray(right_a, float), np.asarray(right_b, float)
    c_obs = (both_right + both_wrong) / n
    p_a, p_b = right_a / n, right_b / n
    c_exp = p_a * p_b + (1.0 - p_a) * (1.0 - p_b)
    degenerate = ((right_a == n) & (right_b == n)) | ((right_a == 0) & (right_b == 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (c_obs - c_exp) / (1.0 - c_exp)
    return np.where(degenerate, np.nan, kappa)


def error_consistency(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Error consistency: Cohen's kappa of two models' trial-by-trial correctness.

    Geirhos, Meding, Wichmann, "Beyond accuracy: quantifying trial-by-trial behaviour of CNNs
    and humans by measuring error consistency", NeurIPS 2020::

        kappa = (c_obs - c_exp) / (1 - c_exp)
        c_obs = fraction of images both models get right or both get wrong
        c_exp = p_a p_b + (1 - p_a)(1 - p_b),   p = accuracy

    1 = identical errors; 0 = no more overlap than independent models of these accuracies;
    negative = fewer shared errors than chance.

    Degenerate case: c_exp = 1 exactly when both models are right on every image or both wrong
    on every image (then c_obs = 1 too and kappa is 0 / 0). There is no error (or no success)
    to be consistent about, so the result is NaN, not 1. (One perfect and one imperfect model
    give c_exp = c_obs = p_b < 1, so kappa = 0.)

    Args:
        correct_a, correct_b: (n,) booleans, True where the model classifies the image
            correctly, over the same images.
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"correctness must be equal non-empty (n,) arrays: {a.shape}, {b.shape}")
    n = float(a.size)
    kappa = _kappa(float(np.sum(a & b)), float(np.sum(~a & ~b)), float(a.sum()), float(b.sum()), n)
    return float(kappa)


def error_consistency_matrix(correct: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """N x N :func:`error_consistency` from (n,) correctness booleans per model (two matrix
    products of the (N, n) 0/1 matrix); diagonal 1 (NaN for a model right or wrong on all)."""
    models = list(correct)
    right = np.stack([np.asarray(correct[m], dtype=bool) for m in models]).astype(np.float64)
    n = float(right.shape[1])
    wrong = 1.0 - right
    totals = right.sum(axis=1)
    kappa = _kappa(right @ right.T, wrong @ wrong.T, totals[:, None], totals[None, :], n)
    return _frame(kappa, models)


def _popcount(values: np.ndarray) -> np.ndarray:
    count = getattr(np, "bitwise_count", None)  # numpy >= 2.0
    if count is not None:
        return count(values)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    return table[values]


def _signs(signs: np.ndarray) -> np.ndarray:
    signs = np.asarray(signs)
    if signs.dtype != np.uint8 or signs.ndim != 2:
        raise ValueError(
            f"gradient signs must be packed uint8 bits (n_images, n_bytes), got "
            f"{signs.dtype} {signs.shape}"
        )
    return signs


def gradient_sign_agreement(
    signs_a: np.ndarray, signs_b: np.ndarray, n_positions: int | None = None
) -> float:
    """Fraction of input positions where two models' loss-gradient signs agree, averaged over
    images (each image has the same number of positions, so this is the overall fraction).

    0.5 = chance (independent signs), 1 = identical, 0 = opposite everywhere. Input: the packed
    bits of :func:`satsim.similarity.representations.input_gradient_signs`, (n_images, n_bytes)
    uint8, bit = 1 where d loss / d pixel > 0. ``n_positions`` = 3 H W, the number of real bits
    per image (default 8 n_bytes, exact when 3 H W is a multiple of 8); ``np.packbits`` pads with
    zeros in both, which always agree and are not counted."""
    a, b = _signs(signs_a), _signs(signs_b)
    if a.shape != b.shape:
        raise ValueError(f"sign arrays differ in shape: {a.shape}, {b.shape}")
    n_positions = 8 * a.shape[1] if n_positions is None else int(n_positions)
    if not 8 * a.shape[1] - 7 <= n_positions <= 8 * a.shape[1]:
        raise ValueError(f"n_positions = {n_positions} does not fit {a.shape[1]} bytes per image")
    differing = _popcount(np.bitwise_xor(a, b)).sum(axis=1, dtype=np.int64)
    return float(np.mean(1.0 - differing / n_positions))


def gradient_agreement_matrix(
    signs: Mapping[str, np.ndarray], n_positions: int | None = None
) -> pd.DataFrame:
    """N x N :func:`gradient_sign_agreement`; diagonal 1."""
    models = list(signs)
    values = np.ones((len(models), len(models)))
    for a in range(len(models)):
        for b in range(a):
            values[a, b] = values[b, a] = gradient_sign_agreement(
                signs[models[a]], signs[models[b]], n_positions
            )
    return _frame(values, models)


MEASURES = ("cka", "agreement", "error_consistency", "gradient_sign")


def similarity_matrices(
    labels: np.ndarray,
    clean_pred: Mapping[str, np.ndarray],
    features: Mapping[str, np.ndarray],
    gradient_signs: Mapping[str, np.ndarray],
    n_positions: int,
) -> dict[str, pd.DataFrame]:
    """Every measure of :data:`MEASURES` over the same models (N x N each, higher = more
    similar): linear CKA of the penultimate features, prediction agreement and error
    consistency of the clean predictions (against ``labels``), and input-gradient sign
    agreement (``n_positions`` = 3 H W real bits per image)."""
    labels = np.asarray(labels)
    return {
        "cka": cka_matrix(features),
        "agreement": agreement_matrix(clean_pred),
        "error_consistency": error_consistency_matrix(
            {model: np.asarray(pred) == labels for model, pred in clean_pred.items()}
        ),
        "gradient_sign": gradient_agreement_matrix(gradient_signs, n_positions),
    }


__all__ = [
    "MEASURES",
    "agreement_matrix",
    "cka_matrix",
    "error_consistency",
    "error_consistency_matrix",
    "gradient_agreement_matrix",
    "gradient_sign_agreement",
    "linear_cka",
    "prediction_agreement",
    "similarity_matrices",
]
