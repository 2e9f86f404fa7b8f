"""Training from scratch with one seeded recipe (the demo zoo, and distilled students), with
optional knowledge distillation and per-epoch checkpoints that make a killed job resumable."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from satsim.compute.feeding import unit_float
from satsim.models.predict import accuracy, predict_logits
from satsim.models.wrapper import freeze
from satsim.workflow.artifacts import ImageSet
from satsim.workflow.atomic import atomic_path


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
    # Offsets come from the (CPU) generator, so a run's draws are the same on every device.
    top = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    left = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    top, left = (t.to(x.device, non_blocking=True) for t in (top, left))
    rows = (top[:, None] + torch.arange(height, device=x.device))[:, None, :, None]  # (N,1,H,1)
    cols = (left[:, None] + torch.arange(width, device=x.device))[:, None, None, :]  # (N,1,1,W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channels, rows, cols]


def warmup_cosine(total_steps: int, warmup_steps: int):
    """LR factor per step: linear warm-up, then cosine decay to zero."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


@dataclass(frozen=True)
class DistillSettings:
    """Knowledge distillation from a teacher (Hinton et al. 2015; DeiT's hard variant).

    ``soft``: loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
    + (1 - alpha) * cross-entropy(student, label). ``hard`` (DeiT-style): the teacher's arg-max
    replaces the soft targets: alpha * CE(student, teacher class) + (1 - alpha) * CE(student,
    label).
    """

    temperature: float = 4.0
    alpha: float = 0.5
    hard: bool = False

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    settings: DistillSettings,
) -> torch.Tensor:
    """The loss of :class:`DistillSettings` for one batch (mean over the batch)."""
    label_loss = F.cross_entropy(student_logits, labels)
    if settings.hard:
        teacher_loss = F.cross_entropy(student_logits, teacher_logits.argmax(dim=1))
    else:
        t = settings.temperature
        teacher_loss = (t * t) * F.kl_div(
            F.log_softmax(student_logits / t, dim=1),
            F.log_softmax(teacher_logits / t, dim=1),
            reduction="batchmean",
            log_target=True,
        )
    return settings.alpha * teacher_loss + (1 - settings.alpha) * label_loss


def train_classifier(
    model: nn.Module,
    images_u8: torch.Tensor,
    labels: torch.Tensor,
    settings: TrainSettings,
    seed: int,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
    teacher: nn.Module | None = None,
    distill: DistillSettings | None = None,
    checkpoint: str | os.PathLike | None = None,
    autocast: str = "none",
    stop_after: int | None = None,
    checkpoint_key: Mapping[str, Any] | None = None,
) -> list[float]:
    """Train ``model`` (reads canonical [0, 1] images) with AdamW, one epoch of linear warm-up
    and a cosine decay; with a ``teacher`` (frozen, same canonical input), by distillation.

    With ``checkpoint``, the full training state (weights, optimizer, schedule, random generator,
    losses) is saved there after every epoch, and a run that finds it resumes after the last
    finished epoch, ending with the same result as an uninterrupted run. ``autocast`` ``bf16``
    runs forward passes under bfloat16 autocast. ``stop_after`` ends this call after that many
    finished epochs (e.g. to fit a cluster's time limit); a later call with the same checkpoint
    goes on from there. A checkpoint records what made it (the settings, seed, distillation and
    autocast, plus ``checkpoint_key``: e.g. the data and teacher weights hashes); one made
    otherwise, or unreadable, is discarded with a line in ``progress`` and training starts over.

    Returns the mean training loss of each finished epoch.
    """
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    if teacher is not None:
        teacher = freeze(teacher).to(device)
        distill = distill or DistillSettings()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    steps_per_epoch = math.ceil(len(images_u8) / settings.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(settings.epochs * steps_per_epoch, steps_per_epoch)
    )
    key = {
        "training": settings.describe(),
        "seed": seed,
        "distillation": distill.describe() if teacher is not None else None,
        "autocast": autocast,
        **(checkpoint_key or {}),
    }
    losses: list[float] = []
    if checkpoint is not None and Path(checkpoint).exists():
        try:
            losses = load_training_state(checkpoint, model, optimizer, schedule, generator, key)
            message = f"resuming from {checkpoint} after epoch {len(losses)}"
        except StaleCheckpoint as stale:
            message = f"discarding {checkpoint}: {stale}; training from the start"
        if progress is not None:
            print(message, file=progress)
    use_bf16 = autocast == "bf16"
    # The training images live on the device for the whole run (uint8: 2 GB for the paper's
    # 10,000 distillation images), so a step moves no pixels from the host.
    images_u8, labels = images_u8.to(device), labels.to(device)
    model.train()
    last_epoch = settings.epochs if stop_after is None else min(stop_after, settings.epochs)
    for _ in tqdm(
        range(len(losses), last_epoch),
        desc="train",
        unit="epoch",
        file=progress,
        disable=progress is None,
        mininterval=5.0,
    ):
        order = torch.randperm(len(images_u8), generator=generator).to(device)
        # Summed on the device in float64 (as Python floats would be): one sync per epoch.
        total = torch.zeros((), dtype=torch.float64, device=device)
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            x = random_shift(unit_float(images_u8[batch]), settings.max_shift_px, generator)
            y = labels[batch]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = model(x)
                if teacher is None:
                    loss = F.cross_entropy(logits.float(), y)
                else:
                    with torch.no_grad():
                        teacher_logits = teacher(x).float()
                    loss = distillation_loss(logits.float(), teacher_logits, y, distill)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.detach().double() * len(batch)
        losses.append(total.item() / len(order))
        if checkpoint is not None:
            save_training_state(checkpoint, model, optimizer, schedule, generator, losses, key)
    model.eval()
    return losses


def evaluate_on_trained_classes(
    model: nn.Module,
    train_labels: torch.Tensor,
    evaluation: ImageSet,
    device: torch.device | str = "cpu",
) -> tuple[float, int]:
    """Top-1 accuracy in [0, 1] of ``model`` on the ``evaluation`` images of the classes in
    ``train_labels`` (a student trained on a class subset is scored on that subset), and how
    many images that is.

    Raises:
        ValueError: ``evaluation`` holds no image of those classes.
    """
    classes = torch.unique(train_labels)
    keep = torch.isin(evaluation.labels, classes)
    if not keep.any():
        raise ValueError(
            f"{evaluation.path} has no image of the {len(classes)} classes the student was "
            "trained on; raise data.eval_size (the committed list holds every class from 1,000 "
            "images on)"
        )
    logits = predict_logits(model, evaluation.images[keep], device=device)
    return accuracy(logits, evaluation.labels[keep]), int(keep.sum())


class StaleCheckpoint(ValueError):
    """A training checkpoint that cannot be resumed: unreadable, or made with other settings."""


def save_training_state(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    losses: list[float],
    key: Mapping[str, Any],
) -> None:
    """Everything needed to continue training exactly, and what made it (``key``), written
    atomically (tensors and plain Python values only, so it loads with ``weights_only=True``)."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": {k: v for k, v in schedule.state_dict().items() if k != "lr_lambdas"},
        "generator": generator.get_state(),
        "losses": list(losses),
        "key": json.dumps(key, sort_keys=True),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_training_state(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    key: Mapping[str, Any],
) -> list[float]:
    """Restore what :func:`save_training_state` wrote; returns the finished epochs' losses.

    Raises:
        StaleCheckpoint: the file is unreadable or was made with another ``key`` (nothing is
            restored then).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, foreign or pickled-code file: all just unusable
        raise StaleCheckpoint(f"unreadable ({type(error).__name__})") from error
    recorded = json.loads(state["key"]) if isinstance(state, dict) and "key" in state else None
    expected = json.loads(json.dumps(key, sort_keys=True))
    if recorded != expected:
        raise StaleCheckpoint(f"made with other settings ({_first_difference(recorded, expected)})")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict({**schedule.state_dict(), **state["schedule"]})
    generator.set_state(state["generator"])
    return list(state["losses"])


def _first_difference(recorded: Any, expected: Mapping[str, Any], prefix: str = "") -> str:
    """``training.lr: 0.002 in the checkpoint, 0.001 now``: the first setting that differs."""
    if not isinstance(recorded, Mapping):
        return "it records no settings"
    for name in sorted(set(recorded) | set(expected)):
        old, new = recorded.get(name), expected.get(name)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            if old != new:
                return _first_difference(old, new, f"{prefix}{name}.")
        elif old != new:
            return f"{prefix}{name}: {old!r} in the checkpoint, {new!r} now"
    return "none"
