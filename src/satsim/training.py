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
    """Translate the whole batch by one random offset in [-max_shift, max_shift]^2 (reflect pad)."""
    if max_shift == 0:
        return x
    dy, dx = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
    padded = F.pad(x, (max_shift,) * 4, mode="reflect")
    height, width = x.shape[-2:]
    top, left = max_shift + dy, max_shift + dx
    return padded[..., top : top + height, left : left + width]


def train_classifier(
    model: nn.Module,
    images_u8: torch.Tensor,
    labels: torch.Tensor,
    settings: TrainSettings,
    seed: int,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
) -> list[float]:
    """Train ``model`` (reads canonical [0, 1] images) with AdamW and a cosine schedule.

    Returns the mean training loss of each epoch.
    """
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr,
                                  weight_decay=settings.weight_decay)
    steps_per_epoch = math.ceil(len(images_u8) / settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.lr, total_steps=settings.epochs * steps_per_epoch,
        pct_start=0.15, anneal_strategy="cos",
    )
    losses = []
    model.train()
    for _ in tqdm(range(settings.epochs), desc="train", unit="epoch", file=progress,
                  disable=progress is None, mininterval=5.0):
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
