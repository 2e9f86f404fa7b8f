"""Batched inference in the canonical pixel space."""

from __future__ import annotations

from typing import TextIO

import torch
from torch import nn

from satsim.compute.batching import BatchSize, map_batches
from satsim.compute.feeding import DeviceBatches, RowSource, evaluation_memory_format, unit_float


def prepare_for_evaluation(model: nn.Module, device: torch.device) -> torch.memory_format:
    """Eval mode on ``device``, in the memory format its inputs should have (weights untouched:
    freezing them makes some models, LeViT, take other kernels and change the last bits)."""
    memory_format = evaluation_memory_format(model, device)
    model.eval().to(device)
    if memory_format != torch.contiguous_format:
        model.to(memory_format=memory_format)
    return memory_format


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images_u8: RowSource,
    batch_size: int | BatchSize = 256,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
    desc: str = "predict",
) -> torch.Tensor:
    """Logits (N, C) float32 on the CPU for uint8 images (N, 3, H, W); ``model`` in eval mode.

    Batches go to the device as uint8 and the logits stay there until the end, so the host never
    waits for the device in between. The batch size halves on a GPU out-of-memory error."""
    device = torch.device(device)
    memory_format = prepare_for_evaluation(model, device)
    batches = DeviceBatches(images_u8, device)

    def logits_of(start: int, stop: int) -> torch.Tensor:
        x = unit_float(batches(start, stop)).contiguous(memory_format=memory_format)
        return model(x).float()

    outputs = map_batches(logits_of, len(images_u8), batch_size, progress, desc)
    if not outputs:
        return torch.empty((0, 0))
    return torch.cat(outputs).cpu()


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in [0, 1]."""
    return float((logits.argmax(dim=1) == labels).float().mean())


def predict_classes(
    model: nn.Module,
    images_u8: RowSource,
    batch_size: int | BatchSize = 256,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
    desc: str = "predict",
) -> torch.Tensor:
    """Predicted classes (N,) int64; an empty input gives an empty result."""
    if len(images_u8) == 0:
        return torch.empty(0, dtype=torch.int64)
    logits = predict_logits(model, images_u8, batch_size, device, progress, desc)
    return logits.argmax(dim=1)
