"""Batch-size back-off and bf16 autocast, on the CPU (no GPU is touched: tests/test_gpu.py runs
on one): the back-off halves a batch on an allocation failure, raised here as torch's real
out-of-memory error by a wrapper that fakes a memory limit, and never on another error; results
do not depend on it; and bf16 autocast keeps white-box success within 2 points of float32."""

from __future__ import annotations

import pytest
import torch
from model_helpers import correct_subset
from torch import nn

from satsim.attack.pgd import AttackSettings, pgd_attack
from satsim.compute.batching import BatchSize, map_batches
from satsim.compute.runtime import with_precision
from satsim.models.predict import predict_classes, predict_logits

WEAK = AttackSettings(epsilon_255ths=6, step_size_255ths=1.5, steps=5)


class MemoryLimit(nn.Module):
    """Raises torch's real out-of-memory error for batches above ``max_batch``, as a GPU does
    when a batch does not fit (a CPU never runs out this way)."""

    def __init__(self, model: nn.Module, max_batch: int) -> None:
        super().__init__()
        self.model, self.max_batch, self.largest_seen = model, max_batch, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > self.max_batch:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        self.largest_seen = max(self.largest_seen, len(x))
        return self.model(x)


def test_back_off_halves_until_a_batch_fits_and_covers_every_item():
    calls = []

    def work(start, stop):
        if stop - start > 12:
            raise torch.OutOfMemoryError("simulated")
        calls.append((start, stop))
        return list(range(start, stop))

    results = map_batches(work, 50, batch_size=64)
    assert [i for batch in results for i in batch] == list(range(50))
    assert {stop - start for start, stop in calls[:-1]} == {8}  # 64 -> 32 -> 16 -> 8


def test_back_off_gives_up_when_one_item_does_not_fit():
    def work(start, stop):
        raise torch.OutOfMemoryError("simulated")

    with pytest.raises(torch.OutOfMemoryError):
        map_batches(work, 3, batch_size=4)


def test_attack_and_evaluation_results_do_not_depend_on_the_back_off(small_cnn, digits):
    images, labels, ids = correct_subset(small_cnn, digits, n=40)
    reference = pgd_attack(small_cnn, images, labels, ids, WEAK, seed=1, batch_size=10)
    limited = MemoryLimit(small_cnn, max_batch=10)
    backed_off = pgd_attack(limited, images, labels, ids, WEAK, seed=1, batch_size=64)
    assert limited.largest_seen == 8  # 64 -> 32 -> 16 -> 8
    assert torch.equal(reference.images, backed_off.images)
    assert torch.equal(reference.fooled, backed_off.fooled)
    logits = predict_logits(MemoryLimit(small_cnn, 10), images, batch_size=256)
    assert torch.allclose(logits, predict_logits(small_cnn, images, batch_size=10))


def test_bf16_autocast_keeps_white_box_success_within_2_points(small_cnn, digits):
    images, labels, ids = correct_subset(small_cnn, digits, n=200)
    fp32 = pgd_attack(small_cnn, images, labels, ids, WEAK, seed=0)
    bf16_model = with_precision(small_cnn, "bf16", torch.device("cpu"))
    bf16 = pgd_attack(bf16_model, images, labels, ids, WEAK, seed=0)
    print(f"white-box success fp32 {fp32.success_rate:.3f}, bf16 {bf16.success_rate:.3f}")
    assert 0.2 < fp32.success_rate < 0.95  # a weak attack, so a difference would show
    assert abs(fp32.success_rate - bf16.success_rate) <= 0.02
    # Evaluation under autocast agrees with float32 on (almost) every image.
    agree = predict_classes(bf16_model, images) == predict_classes(small_cnn, images)
    assert float(agree.float().mean()) >= 0.98


@pytest.mark.parametrize(
    "error",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)"),
        RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
        RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"),
    ],
    ids=["torch", "cublas", "cudnn"],
)
def test_back_off_catches_every_allocation_failure_and_nothing_else(error):
    def work(start, stop):
        if stop - start > 8:
            raise error
        return stop - start

    assert sum(map_batches(work, 20, batch_size=32)) == 20

    def broken(start, stop):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes"):
        map_batches(broken, 20, batch_size=32)


def test_a_shared_batch_size_keeps_what_was_settled():
    sizes = []

    def work(start, stop):
        sizes.append(stop - start)
        if stop - start > 5:
            raise torch.cuda.OutOfMemoryError("simulated")
        return stop - start

    shared = BatchSize(64)
    map_batches(work, 20, shared)
    assert shared.value == 4
    sizes.clear()
    assert sum(map_batches(work, 20, shared)) == 20
    assert set(sizes) == {4}  # the second input starts at the settled size: no failed tries
