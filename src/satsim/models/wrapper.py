"""Canonical pixel space: every model reads the same [0, 1] RGB square images.

Cropping and resizing to the model's native resolution and its mean/std normalisation happen
inside the differentiable forward pass, so an adversarial image made on one model is a valid
input to every other model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class CanonicalModel(nn.Module):
    """Wrap ``model`` to take canonical images ``x`` of shape (B, 3, S, S) in [0, 1].

    The forward pass reproduces timm's eval transform on the canonical square: crop the central
    ``crop_pct`` (as timm does: ``input_size`` out of ``floor(input_size / crop_pct)``), resize to
    ``input_size`` with the model's interpolation (antialiased when shrinking, like PIL), then
    normalise. All of it is differentiable, so gradients reach the canonical pixels.

    Args:
        model: a classifier taking normalised images of ``input_size`` x ``input_size``.
        input_size: the model's native resolution in pixels.
        mean, std: per-channel normalisation of the model, in [0, 1] pixel units.
        crop_pct: the fraction of the canonical square the model sees (timm's ``crop_pct``);
            1.0 reads all of it.
        interpolation: ``bilinear`` or ``bicubic`` (timm's ``interpolation``).
    """

    def __init__(
        self,
        model: nn.Module,
        input_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        crop_pct: float = 1.0,
        interpolation: str = "bilinear",
    ) -> None:
        super().__init__()
        if not 0 < crop_pct <= 1:
            raise ValueError(f"crop_pct must be in (0, 1], got {crop_pct}")
        if interpolation not in ("bilinear", "bicubic"):
            raise ValueError(f"interpolation must be bilinear or bicubic, got {interpolation!r}")
        self.model = model
        self.input_size = int(input_size)
        self.crop_pct = float(crop_pct)
        self.interpolation = interpolation
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def crop_size(self, canonical_size: int) -> int:
        """Side of the central crop the model sees, in canonical pixels.

        timm's crop covers ``input_size / floor(input_size / crop_pct)`` of the shorter side. The
        side is rounded to the parity of ``canonical_size`` so that the crop sits exactly in the
        centre (a half-pixel shift costs more fidelity than a 0.5 % scale error).
        """
        if self.crop_pct == 1.0:
            return canonical_size
        scale_size = math.floor(self.input_size / self.crop_pct)  # timm's resize target
        exact = canonical_size * self.input_size / scale_size
        side = 2 * round((exact - canonical_size % 2) / 2) + canonical_size % 2
        return max(1, min(canonical_size, side))

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Canonical images -> the model's normalised input (B, 3, input_size, input_size)."""
        side = x.shape[-1]
        crop = self.crop_size(side)
        if crop != side:
            top = (side - crop) // 2
            x = x[..., top : top + crop, top : top + crop]
        if crop != self.input_size:
            x = F.interpolate(
                x,
                size=(self.input_size, self.input_size),
                mode=self.interpolation,
                align_corners=False,
                antialias=True,  # PIL's filters (and its bicubic a = -0.5), as timm's transform
            )
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.preprocess(x))


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and no weight gradients: attacks differentiate with respect to the input only."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model
