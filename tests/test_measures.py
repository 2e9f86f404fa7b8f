"""Similarity measures beside SAT (CKA, agreement, error consistency, gradient signs) on cases
with known answers, and the per-model extraction of their inputs on tiny real models."""

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from torch import nn

from satsim.models.predict import predict_logits
from satsim.models.wrapper import CanonicalModel
from satsim.similarity.measures import (
    agreement_matrix,
    cka_matrix,
    error_consistency,
    error_consistency_matrix,
    gradient_agreement_matrix,
    gradient_sign_agreement,
    linear_cka,
    prediction_agreement,
)
from satsim.similarity.representations import (
    classifier_layer,
    input_gradient_signs,
    logits_and_features,
)


def _features(n=300, d=16, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def test_cka_of_identical_features_is_one_from_float16():
    x = _features().astype(np.float16)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-6)
    assert linear_cka(x, x, method="gram") == pytest.approx(1.0, abs=1e-6)


def test_cka_is_invariant_to_orthogonal_transforms_and_isotropic_scaling():
    rng = np.random.default_rng(1)
    x = _features(d=16, seed=1)
    y = x @ rng.standard_normal((16, 8)) + 0.5 * rng.standard_normal((300, 8))  # related
    reference = linear_cka(x, y)
    assert 0.2 < reference < 0.95  # a non-trivial value, so invariance is a real check
    q, _ = np.linalg.qr(rng.standard_normal((16, 16)))  # random orthogonal matrix
    assert linear_cka(x @ q, y) == pytest.approx(reference, rel=1e-10)
    assert linear_cka(3.7 * x, 0.02 * y) == pytest.approx(reference, rel=1e-10)
    # ...but not to anisotropic scaling: the check above can fail.
    stretch = np.ones(16)
    stretch[:4] = 10.0
    assert abs(linear_cka(x * stretch, y) - reference) > 1e-3


def test_cka_of_independent_features_is_near_zero():
    # For independent Gaussian X (n, d1), Y (n, d2): E ||Y^T X||_F^2 ~ n d1 d2 and
    # ||X^T X||_F ~ n sqrt(d1) (for d << n), so E[CKA] ~ sqrt(d1 d2) / n = 20 / 2000 = 0.01,
    # with fluctuations of the same order. Tolerance 0.05 is several times that, yet a CKA
    # that forgot to centre (features with a shared mean offset) would score near 1.
    x, y = _features(2000, 20, seed=2), _features(2000, 20, seed=3)
    assert linear_cka(x, y) < 0.05
    assert linear_cka(x + 5.0, y + 5.0) < 0.05  # centring removes the shared offset


def test_gram_form_equals_feature_form():
    x, y = _features(50, 80, seed=4), _features(50, 30, seed=5)  # d1 > n: auto picks Gram
    feature, gram = linear_cka(x, y, method="feature"), linear_cka(x, y, method="gram")
    assert gram == pytest.approx(feature, rel=1e-10)
    assert linear_cka(x, y) == gram


def test_cka_matrix_matches_pairwise_cka_in_both_forms():
    wide = {f"m{i}": _features(40, 60 + 10 * i, seed=10 + i) for i in range(3)}  # Gram form
    narrow = {f"m{i}": _features(400, 3 + i, seed=20 + i) for i in range(3)}  # feature form
    narrow["m2"] = narrow["m0"] @ np.diag([1.0, -2.0, 0.5]) + 0.1 * narrow["m1"][:, :3]
    for features in (wide, narrow):
        matrix = cka_matrix(features)
        names = list(features)
        assert list(matrix.index) == names
        for a in names:
            for b in names:
                expected = linear_cka(features[a], features[b])
                assert matrix.loc[a, b] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-12)


def test_prediction_agreement_by_hand():
    a = np.array([0, 1, 2, 3, 4])
    b = np.array([0, 1, 9, 3, 0])  # agrees on images 0, 1, 3: 3 / 5
    assert prediction_agreement(a, b) == pytest.approx(0.6)
    matrix = agreement_matrix({"a": a, "b": b, "c": np.array([7, 7, 7, 7, 7])})
    assert matrix.loc["a", "b"] == matrix.loc["b", "a"] == pytest.approx(0.6)
    assert matrix.loc["a", "c"] == 0.0
    assert np.diag(matrix).tolist() == [1.0, 1.0, 1.0]


def test_error_consistency_by_hand():
    # 10 images. The 2 x 2 table of correctness:
    #                B right   B wrong
    #   A right         4         2        p_a = 6/10
    #   A wrong         1         3
    #   p_b = 5/10
    # c_obs = (4 + 3) / 10 = 0.7; c_exp = 0.6 * 0.5 + 0.4 * 0.5 = 0.5;
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    a = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    b = np.array([1, 1, 1, 1, 0, 0, 1, 0, 0, 0], dtype=bool)
    assert error_consistency(a, b) == pytest.approx(0.4)
    # Opposite errors: c_obs = 0, c_exp = 0.6 * 0.4 + 0.4 * 0.6 = 0.48, kappa = -0.48 / 0.52.
    assert error_consistency(a, ~a) == pytest.approx(-12 / 13)
    matrix = error_consistency_matrix({"a": a, "b": b})
    assert matrix.loc["a", "b"] == pytest.approx(0.4)
    assert matrix.loc["a", "a"] == pytest.approx(1.0)


def test_error_consistency_degenerate_cases():
    perfect, flawed = np.ones(8, dtype=bool), np.array([1, 1, 1, 1, 1, 1, 0, 0], dtype=bool)
    # Both right on everything: c_exp = c_obs = 1, kappa is 0 / 0 -> NaN by definition.
    assert np.isnan(error_consistency(perfect, perfect))
    assert np.isnan(error_consistency(~perfect, ~perfect))
    # One perfect model: c_obs = c_exp = p_b = 0.75 -> kappa 0.
    assert error_consistency(perfect, flawed) == pytest.approx(0.0)
    matrix = error_consistency_matrix({"p": perfect, "f": flawed})
    assert np.isnan(matrix.loc["p", "p"]) and matrix.loc["p", "f"] == pytest.approx(0.0)


def test_gradient_sign_agreement():
    rng = np.random.default_rng(6)
    bits = rng.random((64, 3 * 16 * 16)) < 0.5  # 64 images x 768 positions
    signs = np.packbits(bits, axis=1)
    assert gradient_sign_agreement(signs, signs) == 1.0
    assert gradient_sign_agreement(signs, ~signs) == 0.0
    # Independent signs: mean of 49,152 fair coins, standard error 0.5 / sqrt(49152) = 0.0023;
    # the tolerance 0.02 is ~9 standard errors.
    other = np.packbits(rng.random(bits.shape) < 0.5, axis=1)
    assert gradient_sign_agreement(signs, other) == pytest.approx(0.5, abs=0.02)
    # Hand case: flip 3 of 12 positions in image 0, none in image 1: mean(0.75, 1.0) = 0.875;
    # 12 positions pack into 2 bytes with 4 padding bits, which must not count.
    a = np.zeros((2, 12), dtype=bool)
    b = a.copy()
    b[0, [0, 5, 11]] = True
    packed_a, packed_b = np.packbits(a, axis=1), np.packbits(b, axis=1)
    assert gradient_sign_agreement(packed_a, packed_b, n_positions=12) == pytest.approx(0.875)
    matrix = gradient_agreement_matrix({"a": packed_a, "b": packed_b}, n_positions=12)
    assert matrix.loc["a", "b"] == pytest.approx(0.875) and matrix.loc["b", "b"] == 1.0


def _tiny_timm():
    torch.manual_seed(0)
    net = timm.create_model("resnet10t", num_classes=10, channels=(4, 8, 8, 8))
    return CanonicalModel(net, 32, (0.5,) * 3, (0.5,) * 3).eval()


def _images(n=6, side=32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=generator)


def test_logits_and_features_on_a_timm_model():
    model, images = _tiny_timm(), _images()
    with torch.no_grad():
        expected = model(images.float() / 255.0)
    logits, features = logits_and_features(model, images, batch_size=4)  # batches 4 + 2
    head = model.model.get_classifier()
    assert classifier_layer(model) is head
    assert logits.dtype == torch.float32 and features.dtype == torch.float16
    assert logits.shape == (6, 10) and features.shape == (6, head.in_features)
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-6)
    # The features are what the classifier reads: applying it gives the logits back.
    torch.testing.assert_close(head(features.float()), expected, rtol=1e-2, atol=1e-2)
    # Bit for bit what the clean-prediction job's predict_logits gives, with no weight grads.
    assert torch.equal(logits, predict_logits(model, images, batch_size=4))
    assert all(p.grad is None for p in model.parameters())


def test_logits_and_features_fall_back_to_the_last_linear():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 5))
    model = CanonicalModel(net, 8, (0.5,) * 3, (0.5,) * 3).eval()
    images = _images(5, side=8)
    logits, features = logits_and_features(model, images, batch_size=2)
    assert classifier_layer(model) is net[3]
    x = model.preprocess(images.float() / 255.0)
    with torch.no_grad():
        hidden = torch.relu(net[1](net[0](x)))
        torch.testing.assert_close(logits, net(x), rtol=1e-5, atol=1e-6)
    assert features.shape == (5, 16)
    torch.testing.assert_close(features.float(), hidden, rtol=1e-3, atol=1e-3)


def test_input_gradient_signs_match_manual_autograd():
    model, images = _tiny_timm(), _images()
    labels = torch.tensor([0, 1, 2, 3, 4, 5])
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    signs = input_gradient_signs(model, images, labels, batch_size=4)
    assert all(p.grad is None for p in model.parameters())
    assert signs.dtype == torch.uint8 and signs.shape == (6, 3 * 32 * 32 // 8)
    for row in (0, 5):  # one image from each batch
        x = (images[row : row + 1].float() / 255.0).requires_grad_(True)
        loss = F.cross_entropy(model(x), labels[row : row + 1])
        (grad,) = torch.autograd.grad(loss, x)
        expected = np.packbits((grad > 0).flatten().numpy())
        np.testing.assert_array_equal(signs[row].numpy(), expected)
    assert all(p.grad is None for p in model.parameters())
    # Not trivially constant: a gradient has both signs.
    bits = np.unpackbits(signs.numpy(), axis=1)
    assert 0.05 < bits.mean() < 0.95
