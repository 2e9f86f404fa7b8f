"""The SAT formula on hand-computed cases."""

import math
import warnings

import numpy as np
import pytest

from satsim.similarity.sat import sat_from_counts, sat_matrix


def test_sat_from_counts_matches_the_formula():
    # 10 common images; A's attack fools B on 3, B's fools A on 5: rate = 100 * 8 / 20 = 40 %.
    assert sat_from_counts(3, 5, 10, eps_s=0.01) == pytest.approx(math.log(40.0))
    # Full transfer both ways is ln(100).
    assert sat_from_counts(7, 7, 7, eps_s=0.01) == pytest.approx(math.log(100.0))


def test_zero_transfer_is_floored_at_eps_s():
    assert sat_from_counts(0, 0, 50, eps_s=0.5) == pytest.approx(math.log(0.5))
    with pytest.raises(ValueError, match="eps_s"):
        sat_from_counts(0, 0, 50, eps_s=0.0)


def _two_model_case():
    """6 images, labels 0..5. A is wrong on image 5, B on image 4, so X_AB = {0, 1, 2, 3}."""
    labels = np.arange(6)
    clean = {"A": np.array([0, 1, 2, 3, 4, 0]), "B": np.array([0, 1, 2, 3, 0, 5])}
    adv_index = {"A": np.array([0, 1, 2, 3, 4]), "B": np.array([0, 1, 2, 3, 5])}
    wrong = 9  # a wrong class
    transfer = {
        # A's own attack fools A everywhere (white-box 100 %).
        ("A", "A"): np.full(5, wrong),
        # A's adversarial images fool B on images 0 and 4 (4 is outside X_AB).
        ("A", "B"): np.array([wrong, 1, 2, 3, wrong]),
        # B's adversarial images fool A on images 1, 2, 3.
        ("B", "A"): np.array([0, wrong, wrong, wrong, 5]),
        # B's own attack fools B on 4 of its 5 correct images.
        ("B", "B"): np.array([wrong, wrong, wrong, 3, wrong]),
    }
    return labels, clean, adv_index, transfer


def test_sat_matrix_by_hand():
    labels, clean, adv_index, transfer = _two_model_case()
    result = sat_matrix(labels, clean, adv_index, transfer, eps_s=0.01)
    # X_AB = {0,1,2,3}: A->B fools 1, B->A fools 3: rate = 100 * 4 / 8 = 50 %.
    assert result.n_common.loc["A", "B"] == 4
    assert result.directional_rate.loc["A", "B"] == pytest.approx(25.0)
    assert result.directional_rate.loc["B", "A"] == pytest.approx(75.0)
    assert result.transfer_rate.loc["A", "B"] == pytest.approx(50.0)
    assert result.sat.loc["A", "B"] == pytest.approx(math.log(50.0))
    assert result.sat.loc["B", "A"] == result.sat.loc["A", "B"]
    # Diagonal: white-box success over the model's own correct images.
    assert result.sat.loc["A", "A"] == pytest.approx(math.log(100.0))
    assert result.sat.loc["B", "B"] == pytest.approx(math.log(80.0))
    pair = result.pairs.set_index(["model_a", "model_b"]).loc[("A", "B")]
    assert pair["asymmetry"] == pytest.approx(-50.0)


def test_empty_x_ab_warns_and_uses_the_floor():
    labels = np.array([0, 1])
    clean = {"A": np.array([0, 0]), "B": np.array([1, 1])}  # A right only on 0, B only on 1
    adv_index = {"A": np.array([0]), "B": np.array([1])}
    transfer = {
        ("A", "A"): np.array([1]),
        ("A", "B"): np.array([1]),
        ("B", "A"): np.array([0]),
        ("B", "B"): np.array([0]),
    }
    with pytest.warns(UserWarning, match="'A' and 'B'"):
        result = sat_matrix(labels, clean, adv_index, transfer, eps_s=0.01)
    assert result.sat.loc["A", "B"] == pytest.approx(math.log(0.01))
    assert result.n_common.loc["A", "B"] == 0
    assert np.isnan(result.transfer_rate.loc["A", "B"])
    assert bool(result.pairs.set_index(["model_a", "model_b"]).loc[("A", "B"), "x_ab_empty"])
    assert np.isfinite(result.sat.to_numpy()).all()


def test_adversarial_set_must_cover_every_correct_image():
    labels, clean, adv_index, transfer = _two_model_case()
    adv_index["A"] = adv_index["A"][:4]
    transfer = {key: (value[:4] if key[0] == "A" else value) for key, value in transfer.items()}
    with warnings.catch_warnings(), pytest.raises(ValueError, match="adversarial set of 'A'"):
        sat_matrix(labels, clean, adv_index, transfer, eps_s=0.01)
