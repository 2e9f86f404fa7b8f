"""Device choice, numeric precision, threads and determinism."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn


def select_device(preference: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"compute.device is {preference!r} but no CUDA GPU is visible; set it to 'auto' or "
            "'cpu'"
        )
    return torch.device(preference)


def make_deterministic(seed: int, threads: int | None = None) -> None:
    """Seed every generator and ask torch for deterministic kernels: same seed, same bytes on
    the same machine (CPU)."""
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


PRECISIONS = ("none", "bf16")


class Autocast(nn.Module):
    """Run ``model`` under bfloat16 autocast on ``device_type``; logits come back as float32.

    Gradients with respect to the (float32) input still flow, so attacks work unchanged.
    """

    def __init__(self, model: nn.Module, device_type: str) -> None:
        super().__init__()
        self.model = model
        self.device_type = device_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            return self.model(x).float()


def with_precision(model: nn.Module, autocast: str, device: torch.device) -> nn.Module:
    """``model`` as is for ``none``, wrapped in :class:`Autocast` for ``bf16``."""
    if autocast not in PRECISIONS:
        raise ValueError(f"compute.autocast must be one of {PRECISIONS}, got {autocast!r}")
    return model if autocast == "none" else Autocast(model, torch.device(device).type)
