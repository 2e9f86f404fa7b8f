"""Training the demo zoo from scratch: one seeded recipe shared by every model."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, TextIO

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    max_shift_px: int = 2  # random translation, the only augmentation

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random offset in [-max_shift, max_shift]^2 (reflect pad)."""
    if max_shift == 0:
        return x
    n, _, height, width = x.shape
    padded = F.pad(x, (max_shift,) * 4, mode="reflect")
    top = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    left = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (top[:, None] + torch.arange(height))[:, None, :, None]  # (N, 1, H, 1)
    cols = (left[:, None] + torch.arange(width))[:, None, None, :]  # (N, 1, 1, W)
    batch = torch.arange(n)[:, None, None, None]
    channels = torch.arange(x.shape[1])[None, :, None, None]
    return padded[batch, channels, rows, cols]


def warmup_cosine(total_steps: int, warmup_steps: int):
    """LR factor per step: linear warm-up, then cosine decay to zero."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def train_classifier(
    model: nn.Module,
    images_u8: torch.Tensor,
    labels: torch.Tensor,
    settings: TrainSettings,
    seed: int,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
) -> list[float]:
    """Train ``model`` (reads canonical [0, 1] images) with AdamW, one epoch of linear warm-up
    and a cosine decay.

    Returns the mean training loss of each epoch.
    """
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    steps_per_epoch = math.ceil(len(images_u8) / settings.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(settings.epochs * steps_per_epoch, steps_per_epoch)
    )
    losses = []
    model.train()
    for _ in tqdm(
        range(settings.epochs),
        desc="train",
        unit="epoch",
        file=progress,
        disable=progress is None,
        mininterval=5.0,
    ):
        order = torch.randperm(len(images_u8), generator=generator)
        total = 0.0
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            x = random_shift(images_u8[batch].float() / 255.0, settings.max_shift_px, generator)
            loss = F.cross_entropy(model(x.to(device)), labels[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        losses.append(total / len(order))
    model.eval()
    return losses
