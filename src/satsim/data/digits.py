"""The embedded demo's data: scikit-learn's bundled 8x8 digits, as small RGB images.

No download: ``sklearn.datasets.load_digits`` ships with scikit-learn. Each 8x8 image (values
0..16) is upsampled bilinearly to ``size`` x ``size``, copied to three channels and quantised to
uint8, i.e. put into the canonical pixel space.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

NUM_CLASSES = 10


def digits_images(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits: images (1797, 3, size, size) uint8 and labels (1797,) int64."""
    digits = load_digits()
    gray = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    upsampled = F.interpolate(gray, size=(size, size), mode="bilinear", align_corners=False)
    rgb = upsampled.clamp(0.0, 1.0).repeat(1, 3, 1, 1)
    images = torch.round(rgb * 255.0).to(torch.uint8)
    return images, torch.from_numpy(digits.target.astype(np.int64))


def eval_train_split(n_images: int, eval_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split: (eval ids, train ids), each sorted, disjoint, covering all images."""
    if not 0 < eval_size < n_images:
        raise ValueError(f"data.eval_size must be between 1 and {n_images - 1}, got {eval_size}")
    order = np.random.default_rng(seed).permutation(n_images)
    return np.sort(order[:eval_size]), np.sort(order[eval_size:])
