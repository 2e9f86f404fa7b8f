"""Device choice, threads and determinism."""

from __future__ import annotations

import random

import numpy as np
import torch


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
