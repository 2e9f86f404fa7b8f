"""Device choice, numeric precision, threads and determinism."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn

from satsim.gpus import claim_gpu, visible_gpus


def select_device(preference: str = "auto", gpu_count: int | None = None) -> torch.device:
    """The device this process computes on.

    ``auto`` is CUDA when a GPU is visible, else the CPU; ``cuda`` without a GPU is an error;
    ``cuda:N`` pins that GPU. With ``auto`` or ``cuda`` and several visible GPUs, the process
    takes one that no other job holds (see :mod:`satsim.gpus`) and keeps it until it exits.
    ``gpu_count`` replaces ``torch.cuda.device_count()`` (tests fake a multi-GPU machine).
    """
    if preference == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if gpu_count is None else gpu_count
    if count == 0:
        if preference == "auto":
            return torch.device("cpu")
        raise RuntimeError(
            f"compute.device is {preference!r} but no CUDA GPU is visible; set it to 'auto' or "
            "'cpu'"
        )
    if preference.startswith("cuda:"):
        if int(preference.partition(":")[2]) >= count:
            raise RuntimeError(
                f"compute.device is {preference!r} but only {count} GPU(s) are visible; use "
                "'auto' to take any free GPU"
            )
        return torch.device(preference)
    names = visible_gpus()
    if len(names) != count:  # e.g. CUDA_VISIBLE_DEVICES unset and no nvidia-smi: use indices
        names = [str(index) for index in range(count)]
    return torch.device("cuda", claim_gpu(names))


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
