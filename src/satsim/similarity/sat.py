"""SAT: similarity by adversarial attack transferability (Hwang et al., ECCV 2024).

    SAT(A, B) = ln( max( eps_s,
                         100 / (2 |X_AB|) * sum_{x in X_AB} [1(A(x_B) != y) + 1(B(x_A) != y)] ) )

``X_AB`` are the images that both A and B classify correctly, ``x_A`` the adversarial image made
on A from ``x``. The argument of the logarithm is a percentage. SAT(A, A) = ln(100 x white-box
success rate).

Empty ``X_AB`` (no image both models get right): the transfer rate is undefined, so the pair gets
the floor SAT = ln(eps_s) (no evidence of shared vulnerability), its directional rates are NaN,
``x_ab_empty`` is True in the pair table, and a warning names the pair.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def sat_from_counts(fooled_a_to_b: int, fooled_b_to_a: int, n_common: int, eps_s: float) -> float:
    """SAT of one pair from counts over ``X_AB``.

    Args:
        fooled_a_to_b: images of X_AB whose adversarial version made on A fools B.
        fooled_b_to_a: images of X_AB whose adversarial version made on B fools A.
        n_common: |X_AB|.
        eps_s: floor of the percentage inside the logarithm (> 0).
    """
    if eps_s <= 0:
        raise ValueError(f"eps_s must be > 0, got {eps_s}")
    if n_common == 0:
        return math.log(eps_s)
    rate = 100.0 * (fooled_a_to_b + fooled_b_to_a) / (2.0 * n_common)
    return math.log(max(eps_s, rate))


@dataclass
class SatResult:
    """All outputs of the SAT stage, labelled by model name.

    - ``sat``: N x N, symmetric, natural log of the transfer rate in percent.
    - ``transfer_rate``: N x N, symmetric, the percentage inside the logarithm (NaN if X_AB empty).
    - ``n_common``: N x N, |X_AB|.
    - ``directional_rate``: N x N, row = source A, column = target B: percent of X_AB whose
      adversarial image made on A fools B.
    - ``pairs``: one row per unordered pair (including A = A) with both directions.
    """

    sat: pd.DataFrame
    transfer_rate: pd.DataFrame
    n_common: pd.DataFrame
    directional_rate: pd.DataFrame
    pairs: pd.DataFrame


def fooled_masks(
    labels: np.ndarray,
    correct: Mapping[str, np.ndarray],
    adv_index: Mapping[str, np.ndarray],
    transfer_pred: Mapping[tuple[str, str], np.ndarray],
    models: Sequence[str],
    partial: bool = False,
) -> dict[tuple[str, str], np.ndarray]:
    """Per (source, target): boolean mask over the N eval images, True where the adversarial
    image made on ``source`` is misclassified by ``target``. False where no adversarial image
    exists (source got the image wrong, so it is outside every X_AB involving the source).

    Every (source, target) of ``models`` must be in ``transfer_pred`` unless ``partial`` (an
    adaptive run, which measures some pairs only): then the masks are of the pairs given."""
    n_images = len(labels)
    masks = {}
    for source in models:
        index = np.asarray(adv_index[source], dtype=np.int64)
        uncovered = np.flatnonzero(correct[source] & ~np.isin(np.arange(n_images), index))
        if uncovered.size:
            raise ValueError(
                f"the adversarial set of {source!r} lacks {uncovered.size} images that "
                f"{source!r} classifies correctly (first: {uncovered[:5].tolist()}); rerun its "
                "attack"
            )
        for target in models:
            if (source, target) not in transfer_pred:
                if partial:
                    continue
                raise ValueError(
                    f"no predictions of {target!r} on the adversarial set of {source!r}; "
                    "rerun the transfer jobs"
                )
            pred = np.asarray(transfer_pred[(source, target)])
            if pred.shape != index.shape:
                raise ValueError(
                    f"predictions of {target!r} on the adversarial set of {source!r} have shape "
                    f"{pred.shape}, expected {index.shape}"
                )
            mask = np.zeros(n_images, dtype=bool)
            mask[index] = pred != labels[index]
            masks[(source, target)] = mask
    return masks


def measured_cells(
    transfer_pred: Mapping[tuple[str, str], object], models: Sequence[str]
) -> np.ndarray:
    """(N, N) bool, symmetric: the SAT cells whose both directions are in ``transfer_pred``."""
    n = len(models)
    measured = np.zeros((n, n), dtype=bool)
    for i, a in enumerate(models):
        for j, b in enumerate(models):
            measured[i, j] = (a, b) in transfer_pred and (b, a) in transfer_pred
    return measured


def sat_matrix(
    labels: np.ndarray,
    clean_pred: Mapping[str, np.ndarray],
    adv_index: Mapping[str, np.ndarray],
    transfer_pred: Mapping[tuple[str, str], np.ndarray],
    eps_s: float,
    models: Sequence[str] | None = None,
    partial: bool = False,
) -> SatResult:
    """The SAT matrix of ``models`` (default: all keys of ``clean_pred``).

    With ``partial`` (an adaptive run), pairs missing from ``transfer_pred`` are unmeasured:
    their cells are NaN in ``sat``, the rates and ``pairs`` (which lists measured cells only);
    ``n_common`` needs no transfer and is complete.

    Every array may also be a CPU torch tensor: ``predict_classes``, the positions the attack
    was run on and ``transfer_predictions`` go in as they come.

    Args:
        labels: (N,) true classes of the eval images.
        clean_pred: model -> (N,) predicted classes on the clean images.
        adv_index: source -> (M_s,) eval-image positions of its adversarial images.
        transfer_pred: (source, target) -> (M_s,) target's predicted classes on them.
        eps_s: floor of the percentage inside the logarithm.
    """
    labels = np.asarray(labels)
    models = list(models if models is not None else clean_pred)
    correct = {m: np.asarray(clean_pred[m]) == labels for m in models}
    fooled = fooled_masks(labels, correct, adv_index, transfer_pred, models, partial)
    measured = measured_cells(fooled, models)

    n = len(models)
    sat = np.zeros((n, n))
    rate = np.full((n, n), np.nan)
    common = np.zeros((n, n), dtype=np.int64)
    directional = np.full((n, n), np.nan)
    rows = []
    for i, a in enumerate(models):
        for j, b in enumerate(models):
            if j < i:
                continue
            both = correct[a] & correct[b]
            n_ab = int(both.sum())
            common[i, j] = common[j, i] = n_ab
            if not measured[i, j]:
                sat[i, j] = sat[j, i] = np.nan
                continue
            a_to_b = int(fooled[(a, b)][both].sum())
            b_to_a = int(fooled[(b, a)][both].sum())
            sat[i, j] = sat[j, i] = sat_from_counts(a_to_b, b_to_a, n_ab, eps_s)
            if n_ab == 0:
                warnings.warn(
                    f"no image is classified correctly by both {a!r} and {b!r}: SAT set to "
                    f"ln(eps_s) = {math.log(eps_s):.3f}",
                    stacklevel=2,
                )
            else:
                rate[i, j] = rate[j, i] = 100.0 * (a_to_b + b_to_a) / (2.0 * n_ab)
                directional[i, j] = 100.0 * a_to_b / n_ab
                directional[j, i] = 100.0 * b_to_a / n_ab
            rows.append(
                {
                    "model_a": a,
                    "model_b": b,
                    "n_common": n_ab,
                    "x_ab_empty": n_ab == 0,
                    "fooled_a_to_b": a_to_b,
                    "fooled_b_to_a": b_to_a,
                    "rate_a_to_b": directional[i, j],
                    "rate_b_to_a": directional[j, i],
                    "asymmetry": directional[i, j] - directional[j, i],
                    "transfer_rate": rate[i, j],
                    "sat": sat[i, j],
                }
            )

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=pd.Index(models, name="model"), columns=models)

    return SatResult(
        sat=frame(sat),
        transfer_rate=frame(rate),
        n_common=frame(common),
        directional_rate=frame(directional).rename_axis("source \\ target"),
        pairs=pd.DataFrame(rows),
    )
