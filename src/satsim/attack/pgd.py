"""Untargeted L-inf PGD (Madry et al. 2018) in the canonical [0, 1] pixel space.

Budgets are given in *pixel levels*: ``epsilon_255ths = 2`` means ||delta||_inf <= 2/255 of the
[0, 1] range. Adversarial images are returned as uint8 on the 1/255 grid (they are real images);
success is measured on those rounded images.

Two backends: ``native`` (this module's loop) and ``advertorch`` (``LinfPGDAttack``). Both take
the gradient with respect to the input only: the model is frozen and in eval mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TextIO

import torch
import torch.nn.functional as F
from torch import nn

from satsim.compute.batching import map_batches
from satsim.compute.feeding import DeviceBatches, preferred_memory_format, unit_float
from satsim.models.wrapper import freeze

BACKENDS = ("native", "advertorch")


@dataclass(frozen=True)
class AttackSettings:
    """PGD settings; the two budgets are in units of 1/255 (pixel levels)."""

    epsilon_255ths: int
    step_size_255ths: float
    steps: int
    random_start: bool = True
    backend: str = "native"
    norm: str = "linf"

    def __post_init__(self) -> None:
        if self.norm != "linf":
            raise ValueError(f"attack.norm: only 'linf' is implemented, got {self.norm!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"attack.backend: expected one of {BACKENDS}, got {self.backend!r}")
        if int(self.epsilon_255ths) != self.epsilon_255ths or self.epsilon_255ths < 1:
            # Stored images live on the 1/255 grid, so a budget below one level cannot be stored.
            raise ValueError(
                f"attack.epsilon_255ths must be a whole number of pixel levels >= 1, got "
                f"{self.epsilon_255ths}"
            )
        if self.step_size_255ths <= 0 or self.steps < 1:
            raise ValueError("attack.step_size_255ths must be > 0 and attack.steps >= 1")

    @property
    def epsilon(self) -> float:
        return self.epsilon_255ths / 255.0

    @property
    def step_size(self) -> float:
        return self.step_size_255ths / 255.0

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def random_start(
    shape: tuple[int, ...],
    image_ids: torch.Tensor,
    epsilon: float,
    seed: int,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Uniform noise in [-epsilon, epsilon] drawn per image from (seed, image id), so the start of
    each image does not depend on batch size or order. It is drawn on ``device`` by that
    device's generator: a GPU gives other (equally uniform) numbers than the CPU."""
    generator = torch.Generator(device=device)
    noise = torch.empty((len(image_ids), *shape), device=device)
    for row, image_id in enumerate(image_ids.tolist()):
        generator.manual_seed(seed * 1_000_003 + int(image_id))
        noise[row].uniform_(-epsilon, epsilon, generator=generator)
    return noise


def pgd_native(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: AttackSettings,
    delta_init: torch.Tensor,
) -> torch.Tensor:
    """PGD from ``x + delta_init``; returns float images in [0, 1] within the epsilon ball."""
    x = x.contiguous(memory_format=preferred_memory_format(model))  # see prepare_native
    # The ball and the [0, 1] box intersect in one per-pixel interval: one clamp per step.
    lower = (x - settings.epsilon).clamp_(min=0.0)
    upper = (x + settings.epsilon).clamp_(max=1.0)
    x_adv = torch.clamp(x + delta_init, min=lower, max=upper)
    for _ in range(settings.steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad():
            loss = F.cross_entropy(model(x_adv), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = torch.clamp(
            x_adv.detach().add_(grad.sign_(), alpha=settings.step_size), min=lower, max=upper
        )
    return x_adv.detach()


def prepare_native(model: nn.Module) -> nn.Module:
    """The model in its preferred memory format (channels-last if convolutional)."""
    return model.to(memory_format=preferred_memory_format(model))


def pgd_advertorch(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: AttackSettings,
    delta_init: torch.Tensor,
) -> torch.Tensor:
    """The same attack through advertorch's ``LinfPGDAttack`` (for cross-checking).

    ``delta_init`` is not used: advertorch draws its own random start from torch's global
    generator, which :func:`pgd_attack` seeds per batch.
    """
    from satsim.attack.advertorch_compat import import_advertorch_attacks

    attacks = import_advertorch_attacks()
    adversary = attacks.LinfPGDAttack(
        model,
        loss_fn=nn.CrossEntropyLoss(reduction="sum"),
        eps=settings.epsilon,
        nb_iter=settings.steps,
        eps_iter=settings.step_size,
        rand_init=settings.random_start,
        clip_min=0.0,
        clip_max=1.0,
        targeted=False,
    )
    with torch.enable_grad():
        return adversary.perturb(x, y).detach()


_BACKEND_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "native": pgd_native,
    "advertorch": pgd_advertorch,
}


def to_pixel_levels(x_adv: torch.Tensor, x_u8: torch.Tensor, epsilon_255ths: int) -> torch.Tensor:
    """Round adversarial images to uint8 and keep them exactly inside the epsilon ball (on the
    images' device; int16 holds every level and its ball exactly, at half float32's traffic)."""
    levels = torch.round(x_adv * 255.0).to(torch.int16)
    base = x_u8.to(torch.int16)
    levels = torch.minimum(torch.maximum(levels, base - epsilon_255ths), base + epsilon_255ths)
    return levels.clamp(0, 255).to(torch.uint8)


@dataclass
class AttackResult:
    """``images``: (M, 3, H, W) uint8 adversarial images; ``fooled``: (M,) bool, white-box
    success on the rounded images."""

    images: torch.Tensor
    fooled: torch.Tensor

    @property
    def success_rate(self) -> float:
        return float(self.fooled.float().mean()) if len(self.fooled) else math.nan


def pgd_attack(
    model: nn.Module,
    images_u8: torch.Tensor,
    labels: torch.Tensor,
    image_ids: torch.Tensor,
    settings: AttackSettings,
    seed: int,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
) -> AttackResult:
    """Attack every image with ``settings``; ``model`` reads canonical [0, 1] images.

    ``model`` is frozen in place (eval mode, no weight gradients) and, for the native backend,
    given channels-last weights if it has convolutions. The batch size halves on a GPU
    out-of-memory error; the native backend's results do not depend on it.

    Args:
        images_u8: (M, 3, H, W) uint8 clean images.
        labels: (M,) true classes.
        image_ids: (M,) stable ids of the images (seed the per-image random start).
        seed: run seed.
    """
    device = torch.device(device)
    model = freeze(model).to(device)
    if settings.backend == "native":
        model = prepare_native(model)
    attack_batch = _BACKEND_FUNCTIONS[settings.backend]

    batches = DeviceBatches(images_u8, device)

    def attack_slice(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        # Everything stays on the device; only the uint8 images come back, once, at the end.
        x_u8 = batches(start, stop)
        y = labels[start:stop].to(device, non_blocking=True)
        x = unit_float(x_u8)
        ids = image_ids[start:stop]
        if settings.random_start:
            noise = random_start(tuple(x.shape[1:]), ids, settings.epsilon, seed, device)
        else:
            noise = torch.zeros_like(x)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed * 1_000_003 + int(ids[0]))  # advertorch's own random start
            x_adv = attack_batch(model, x, y, settings, noise)
        adv_u8 = to_pixel_levels(x_adv, x_u8, settings.epsilon_255ths)
        with torch.no_grad():
            pred = model(unit_float(adv_u8)).argmax(dim=1)
        return adv_u8, pred != y

    results = map_batches(attack_slice, len(images_u8), batch_size, progress, desc="attack")
    if not results:
        empty = torch.empty((0, *images_u8.shape[1:]), dtype=torch.uint8)
        return AttackResult(empty, torch.empty(0, dtype=torch.bool))
    adversarial, fooled = zip(*results, strict=True)
    # Batch by batch to the host: concatenating on the device would double the peak there.
    return AttackResult(torch.cat([a.cpu() for a in adversarial]), torch.cat(fooled).cpu())
