"""Batched inference in the canonical pixel space."""

from __future__ import annotations

from typing import TextIO

import torch
from torch import nn

from satsim.batching import BatchSize, map_batches


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images_u8: torch.Tensor,
    batch_size: int | BatchSize = 256,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
    desc: str = "predict",
) -> torch.Tensor:
    """Logits (N, C) float32 on the CPU for uint8 images (N, 3, H, W); ``model`` in eval mode.

    The batch size halves on a GPU out-of-memory error."""
    model.eval().to(device)

    def logits_of(start: int, stop: int) -> torch.Tensor:
        x = images_u8[start:stop].to(device, torch.float32) / 255.0
        return model(x).float().cpu()

    outputs = map_batches(logits_of, len(images_u8), batch_size, progress, desc)
    if not outputs:
        return torch.empty((0, 0))
    return torch.cat(outputs)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in [0, 1]."""
    return float((logits.argmax(dim=1) == labels).float().mean())


def predict_classes(
    model: nn.Module,
    images_u8: torch.Tensor,
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
