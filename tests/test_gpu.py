"""The CUDA paths themselves: skipped without a GPU (marker ``gpu``); benchmarks/gpu_check.py
runs them on a lent GPU. Each test works on its own copy of the shared CPU model."""

from __future__ import annotations

import copy

import pytest
import timm
import torch
from model_helpers import correct_subset

from satsim.attack.pgd import AttackSettings, pgd_attack, random_start, to_pixel_levels
from satsim.compute.batching import BatchSize
from satsim.compute.gpus import LOCK_DIR_ENV, release_gpus
from satsim.compute.runtime import configure_numerics, select_device
from satsim.models.factory import build_model, canonical_model
from satsim.models.predict import predict_logits
from satsim.models.training import TrainSettings, train_classifier

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda", 0)
WEAK = AttackSettings(epsilon_255ths=6, step_size_255ths=1.5, steps=5)


@pytest.fixture(autouse=True)
def strict_float32():
    configure_numerics(False)  # TF32 off: CPU and GPU then agree to float32 rounding


def test_a_job_takes_a_real_gpu_and_holds_it(tmp_path, monkeypatch):
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path))
    try:
        device = select_device("auto")
        assert device.type == "cuda" and device.index < torch.cuda.device_count()
        torch.ones(1, device=device)  # the device is usable
        if torch.cuda.device_count() > 1:
            assert select_device("auto") != device  # a second claim gets another GPU
    finally:
        release_gpus()


def test_gpu_logits_match_the_cpu_to_float32_rounding(small_cnn, digits):
    images = digits[0][:128]
    on_cpu = predict_logits(copy.deepcopy(small_cnn), images, 50, "cpu")
    on_gpu = predict_logits(copy.deepcopy(small_cnn), images, 50, CUDA)
    assert on_gpu.device.type == "cpu"
    torch.testing.assert_close(on_gpu, on_cpu, rtol=1e-4, atol=1e-4)
    assert torch.equal(on_gpu.argmax(1), on_cpu.argmax(1))


def test_gpu_attack_does_not_depend_on_the_batch_size(small_cnn, digits):
    model = copy.deepcopy(small_cnn)
    images, labels, ids = correct_subset(model, digits, n=64)
    whole = pgd_attack(model, images, labels, ids, WEAK, seed=1, batch_size=64, device=CUDA)
    split = pgd_attack(model, images, labels, ids, WEAK, seed=1, batch_size=10, device=CUDA)
    assert whole.images.device.type == "cpu" and whole.images.dtype == torch.uint8
    # cuDNN picks kernels per batch shape; a gradient sign flipped by rounding spreads through
    # the later steps of that image, so a few pixels may differ, never many.
    differing = (whole.images != split.images).float().mean().item()
    assert differing < 1e-2
    assert (whole.fooled == split.fooled).float().mean().item() > 0.9
    assert whole.success_rate > 0.5


def test_random_start_on_the_gpu_is_per_image_and_in_the_ball():
    ids = torch.arange(30)
    whole = random_start((3, 8, 8), ids, 0.1, seed=3, device=CUDA)
    parts = torch.cat([random_start((3, 8, 8), p, 0.1, seed=3, device=CUDA) for p in ids.split(7)])
    assert whole.device.type == "cuda" and torch.equal(whole, parts)
    assert whole.abs().max() <= 0.1 and whole.std() > 0.05


def test_rounding_on_the_gpu_equals_the_cpu():
    generator = torch.Generator().manual_seed(0)
    x_u8 = torch.randint(0, 256, (16, 3, 24, 24), generator=generator).to(torch.uint8)
    x_adv = (x_u8.float() / 255 + 0.05 * torch.randn(x_u8.shape, generator=generator)).clamp(0, 1)
    on_cpu = to_pixel_levels(x_adv, x_u8, 4)
    on_gpu = to_pixel_levels(x_adv.to(CUDA), x_u8.to(CUDA), 4)
    assert torch.equal(on_gpu.cpu(), on_cpu)


def test_a_real_out_of_memory_error_halves_the_batch_and_changes_no_result():
    model = timm.create_model("resnet18", num_classes=10).eval().to(CUDA)
    images = torch.randint(0, 256, (256, 3, 224, 224), dtype=torch.uint8)
    reference = predict_logits(model, images[:32], 8, CUDA)
    torch.cuda.empty_cache()
    # Leave ~300 MB above what is in use: a 256-image resnet18 batch needs several GB.
    total = torch.cuda.get_device_properties(CUDA).total_memory
    allowed = torch.cuda.memory_allocated(CUDA) + 300 * 2**20
    torch.cuda.set_per_process_memory_fraction(allowed / total, CUDA)
    try:
        size = BatchSize(256)
        logits = predict_logits(model, images, size, CUDA)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, CUDA)
    assert size.value < 256  # it really ran out and backed off
    torch.testing.assert_close(logits[:32], reference, rtol=1e-4, atol=1e-4)


def test_training_on_the_gpu_keeps_images_there_and_learns(digits, demo_registry):
    *_, train_images, train_labels = digits
    spec = demo_registry.get_spec("resnet10t")
    torch.manual_seed(0)
    model = canonical_model(spec, build_model(spec, num_classes=10))
    settings = TrainSettings(epochs=2, batch_size=64, lr=2e-3, weight_decay=0.05)
    losses = train_classifier(model, train_images, train_labels, settings, seed=0, device=CUDA)
    assert losses[1] < losses[0]
    assert next(model.parameters()).device.type == "cuda"
