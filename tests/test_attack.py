"""PGD invariants, determinism and agreement of the two backends on a trained timm model."""

import copy

import pytest
import torch
from model_helpers import correct_subset

from satsim.attack.pgd import AttackSettings, pgd_attack, random_start
from satsim.models.predict import predict_classes

SETTINGS = AttackSettings(epsilon_255ths=16, step_size_255ths=4.0, steps=5)


def test_pgd_stays_in_the_ball_on_the_pixel_grid(small_cnn, digits):
    images, labels, ids = correct_subset(small_cnn, digits)
    result = pgd_attack(small_cnn, images, labels, ids, SETTINGS, seed=0, batch_size=40)
    assert result.images.dtype == torch.uint8  # on the 1/255 grid by construction
    assert result.images.shape == images.shape
    delta = result.images.int() - images.int()
    assert delta.abs().max() <= SETTINGS.epsilon_255ths
    assert delta.abs().max() > 0  # it did perturb
    as_float = result.images.float() / 255.0
    assert as_float.min() >= 0.0 and as_float.max() <= 1.0
    assert torch.equal(torch.round(as_float * 255.0).to(torch.uint8), result.images)
    # Success is measured on the stored (rounded) images.
    fooled = predict_classes(small_cnn, result.images) != labels
    assert torch.equal(fooled, result.fooled)
    assert result.success_rate > 0.5


def test_pgd_leaves_the_weights_alone(small_cnn, digits):
    images, labels, ids = correct_subset(small_cnn, digits, n=16)
    model = copy.deepcopy(small_cnn)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    pgd_attack(model, images, labels, ids, SETTINGS, seed=0)
    assert not model.training
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


def test_same_seed_same_bytes_and_batching_does_not_matter(small_cnn, digits):
    images, labels, ids = correct_subset(small_cnn, digits, n=48)
    first = pgd_attack(small_cnn, images, labels, ids, SETTINGS, seed=3, batch_size=48)
    again = pgd_attack(small_cnn, images, labels, ids, SETTINGS, seed=3, batch_size=48)
    assert first.images.numpy().tobytes() == again.images.numpy().tobytes()
    other_seed = pgd_attack(small_cnn, images, labels, ids, SETTINGS, seed=4, batch_size=48)
    assert not torch.equal(first.images, other_seed.images)
    # The random start is drawn per image, so a different batch size starts from the same point.
    noise_whole = random_start((3, 32, 32), ids, SETTINGS.epsilon, seed=3)
    noise_split = torch.cat(
        [random_start((3, 32, 32), part, SETTINGS.epsilon, seed=3) for part in ids.split(7)]
    )
    assert torch.equal(noise_whole, noise_split)
    assert noise_whole.abs().max() <= SETTINGS.epsilon


def test_native_and_advertorch_reach_the_same_white_box_success(small_cnn, digits):
    images, labels, ids = correct_subset(small_cnn, digits, n=200)
    # A weak attack, so that success is far from 100 % and a disagreement would show.
    weak = AttackSettings(epsilon_255ths=6, step_size_255ths=1.5, steps=5)
    native = pgd_attack(small_cnn, images, labels, ids, weak, seed=0)
    advertorch = pgd_attack(
        small_cnn,
        images,
        labels,
        ids,
        AttackSettings(**{**weak.describe(), "backend": "advertorch"}),
        seed=0,
    )
    print(
        f"white-box success: native {native.success_rate:.3f}, "
        f"advertorch {advertorch.success_rate:.3f}"
    )
    assert 0.05 < native.success_rate < 0.95
    assert abs(native.success_rate - advertorch.success_rate) <= 0.02
    delta = advertorch.images.int() - images.int()
    assert delta.abs().max() <= weak.epsilon_255ths


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epsilon_255ths": 0}, "epsilon_255ths"),
        ({"epsilon_255ths": 1.5}, "epsilon_255ths"),
        ({"backend": "foolbox"}, "attack.backend"),
        ({"norm": "l2"}, "attack.norm"),
        ({"steps": 0}, "steps"),
    ],
)
def test_bad_settings_name_the_key(changes, message):
    with pytest.raises(ValueError, match=message):
        AttackSettings(**{**SETTINGS.describe(), **changes})
