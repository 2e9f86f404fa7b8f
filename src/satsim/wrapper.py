"""Canonical pixel space: every model reads the same [0, 1] RGB images.

Resizing to the model's native resolution and its mean/std normalisation happen inside the
differentiable forward pass, so an adversarial image made on one model is a valid input to
every other model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class CanonicalModel(nn.Module):
    """Wrap ``model`` to take images ``x`` of shape (B, 3, H, W) in [0, 1].

    Args:
        model: a classifier taking normalised images of ``input_size`` x ``input_size``.
        input_size: the model's native resolution in pixels.
        mean, std: per-channel normalisation of the model, in [0, 1] pixel units.
    """

    def __init__(
        self,
        model: nn.Module,
        input_size: int,
        mean: Sequence[float],
        std: Sequence[float],
    ) -> None:
        super().__init__()
        self.model = model
        self.input_size = int(input_size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            downscale = x.shape[-1] > self.input_size
            x = F.interpolate(
                x,
                size=(self.input_size, self.input_size),
                mode="bilinear",
                align_corners=False,
                antialias=downscale,  # like PIL's resize when shrinking
            )
        return self.model((x - self.mean) / self.std)


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and no weight gradients: attacks differentiate with respect to the input only."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model
