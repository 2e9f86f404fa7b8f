"""Per-batch time the attack, evaluation and training loops spend outside the model.

    python benchmarks/host_overhead.py [--device cuda] [--images 64] [--size 256] [--steps 10]
        [--arch resnet18] [--repeats 3] [--threads N] [--skip-model] [--json PATH]

Why: on a GPU the model's forward/backward is fast, so work around it (uint8 -> float, host <->
device copies, the PGD random start, rounding to pixel levels, the success check, augmentation,
the optimizer...) can decide a job's wall time. This puts a number on that work next to the
model's own.

How, per loop (paper size by default: batches of 64 x 3 x 256 x 256 uint8 images):

- host: wall time per batch of the real satsim loop (``pgd_attack``, ``predict_logits``,
  ``train_classifier`` with a teacher, i.e. distillation) run with a near-free model (global
  average pool + a linear layer), so what remains is the work around the model. The near-free
  model still reads its input and, in the attack, writes a full-size input gradient: its own
  cost is printed below the table (it is inside the host column).
- model: the same model work on an already-prepared float batch on the device, for a real timm
  architecture with random weights: attack ``steps`` gradients with respect to the input plus the
  success-check forward (eval mode, channels-last as the native backend uses); evaluation one
  forward; training one forward + backward of the student, one teacher forward (same
  architecture) and the AdamW step (its cost grows with the weights, so it is the model's).

Each number is the median of ``--repeats`` timings, after one warm-up run. Prints which satsim
was imported (``satsim.__file__``), so runs before and after a change can be told apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

import satsim
from satsim.attack.pgd import AttackSettings, pgd_attack
from satsim.models.predict import predict_logits
from satsim.models.training import (
    DistillSettings,
    TrainSettings,
    distillation_loss,
    train_classifier,
)

NUM_CLASSES = 1000
EVAL_BATCHES = 2
TRAIN_BATCHES = 2
ATTACK = dict(epsilon_255ths=1, step_size_255ths=0.25)
TRAIN = dict(lr=1e-3, weight_decay=0.05, max_shift_px=8)


@dataclass
class Row:
    loop: str
    host_ms_per_batch: float
    model_ms_per_batch: float | None  # None with --skip-model
    near_free_model_ms_per_batch: float  # the near-free model's own share of the host column

    @property
    def host_share_percent(self) -> float | None:
        if self.model_ms_per_batch is None:
            return None
        return 100.0 * self.host_ms_per_batch / (self.host_ms_per_batch + self.model_ms_per_batch)


def near_free_model() -> nn.Module:
    """A classifier whose forward/backward costs next to nothing (it has trainable weights)."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, NUM_CLASSES))


def real_model(arch: str) -> nn.Module:
    import timm

    return timm.create_model(arch, pretrained=False, num_classes=NUM_CLASSES)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(work: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median wall time of ``work()`` over ``repeats`` runs, after one warm-up run."""
    work()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        work()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_inputs(n_images: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 3, size, size) and labels in [0, NUM_CLASSES), on the CPU as a job has
    them."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(
        0, 256, (n_images, 3, size, size), dtype=torch.uint8, generator=generator
    )
    labels = torch.randint(0, NUM_CLASSES, (n_images,), generator=generator)
    return images, labels


# The loops as satsim runs them: one call, timed whole.


def attack_loop(args: argparse.Namespace, model: nn.Module) -> Callable[[], object]:
    """``pgd_attack`` on exactly one batch of ``--images``."""
    images, labels = random_inputs(args.images, args.size)
    ids = torch.arange(args.images)
    settings = AttackSettings(**ATTACK, steps=args.steps)
    device = args.device

    def run() -> object:
        return pgd_attack(
            model, images, labels, ids, settings, seed=0, batch_size=args.images, device=device
        )

    return run


def evaluation_loop(args: argparse.Namespace, model: nn.Module) -> Callable[[], object]:
    """``predict_logits`` over EVAL_BATCHES batches of ``--images``."""
    images, _ = random_inputs(EVAL_BATCHES * args.images, args.size)
    return lambda: predict_logits(model, images, batch_size=args.images, device=args.device)


def training_loop(args: argparse.Namespace) -> Callable[[], object]:
    """``train_classifier`` with a teacher (distillation): one epoch of TRAIN_BATCHES batches,
    a fresh near-free student and teacher each run."""
    images, labels = random_inputs(TRAIN_BATCHES * args.images, args.size)
    settings = TrainSettings(epochs=1, batch_size=args.images, **TRAIN)

    def run() -> object:
        student, teacher = near_free_model(), near_free_model()
        return train_classifier(
            student, images, labels, settings, seed=0, device=args.device, teacher=teacher
        )

    return run


# The model's own work on a prepared batch: what the loops above do around it is left out.


def prepared_batch(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor]:
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand((args.images, 3, args.size, args.size), generator=generator).to(device)
    y = torch.randint(0, NUM_CLASSES, (args.images,), generator=generator).to(device)
    return x, y


def attack_model_work(args: argparse.Namespace, model: nn.Module) -> Callable[[], object]:
    """``--steps`` input gradients and the success-check forward, as in the native PGD."""
    x, y = prepared_batch(args)
    model = frozen(model).to(args.device, memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)

    def run() -> object:
        for _ in range(args.steps):
            x_adv = x.detach().requires_grad_(True)
            loss = F.cross_entropy(model(x_adv), y, reduction="sum")
            torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            return model(x).argmax(dim=1)

    return run


def evaluation_model_work(args: argparse.Namespace, model: nn.Module) -> Callable[[], object]:
    """One forward in eval mode."""
    x, _ = prepared_batch(args)
    model = model.eval().to(args.device)

    def run() -> object:
        with torch.no_grad():
            return model(x)

    return run


def training_model_work(
    args: argparse.Namespace, student: nn.Module, teacher: nn.Module
) -> Callable[[], object]:
    """Student forward + backward, teacher forward, distillation loss and the AdamW step."""
    x, y = prepared_batch(args)
    student = student.train().to(args.device)
    teacher = frozen(teacher).to(args.device)
    optimizer = torch.optim.AdamW(
        student.parameters(), lr=TRAIN["lr"], weight_decay=TRAIN["weight_decay"]
    )
    distill = DistillSettings()

    def run() -> object:
        logits = student(x)
        with torch.no_grad():
            teacher_logits = teacher(x)
        loss = distillation_loss(logits, teacher_logits, y, distill)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return run


def frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def measure(args: argparse.Namespace) -> list[Row]:
    device = torch.device(args.device)

    def ms(work: Callable[[], object], batches: int = 1) -> float:
        return 1000.0 * median_seconds(work, args.repeats, device) / batches

    host = {
        "attack": ms(attack_loop(args, near_free_model())),
        "evaluation": ms(evaluation_loop(args, near_free_model()), EVAL_BATCHES),
        "training": ms(training_loop(args), TRAIN_BATCHES),
    }
    near_free = {
        "attack": ms(attack_model_work(args, near_free_model())),
        "evaluation": ms(evaluation_model_work(args, near_free_model())),
        "training": ms(training_model_work(args, near_free_model(), near_free_model())),
    }
    model: dict[str, float | None] = dict.fromkeys(host)
    if not args.skip_model:
        model["attack"] = ms(attack_model_work(args, real_model(args.arch)))
        model["evaluation"] = ms(evaluation_model_work(args, real_model(args.arch)))
        model["training"] = ms(
            training_model_work(args, real_model(args.arch), real_model(args.arch))
        )
    return [Row(loop, host[loop], model[loop], near_free[loop]) for loop in host]


def header(args: argparse.Namespace) -> dict[str, object]:
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {
        "device": f"{args.device} ({name})",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "satsim": satsim.__file__,
        "batch": f"{args.images} x 3 x {args.size} x {args.size} uint8",
        "attack_steps": args.steps,
        "arch": None if args.skip_model else args.arch,
        "repeats": args.repeats,
    }


def print_report(info: dict[str, object], rows: list[Row]) -> None:
    for key, value in info.items():
        print(f"# {key}: {value}")
    print(f"{'loop':<12}{'host_ms_per_batch':>20}{'model_ms_per_batch':>20}{'host_share_%':>14}")
    for row in rows:
        model = "-" if row.model_ms_per_batch is None else f"{row.model_ms_per_batch:.1f}"
        share = "-" if row.host_share_percent is None else f"{row.host_share_percent:.1f}"
        print(f"{row.loop:<12}{row.host_ms_per_batch:>20.1f}{model:>20}{share:>14}")
    own = ", ".join(f"{row.loop} {row.near_free_model_ms_per_batch:.1f}" for row in rows)
    print(f"# near-free model's own fwd/bwd per batch (inside host, ms): {own}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", choices=("cpu", "cuda"), default=default_device)
    parser.add_argument("--images", type=int, default=64, help="images per batch")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--steps", type=int, default=10, help="PGD steps")
    parser.add_argument("--arch", default="resnet18", help="timm architecture for model time")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="CPU threads for torch (fewer than the free cores: busy cores slow every op)",
    )
    parser.add_argument("--skip-model", action="store_true", help="no real-model timing")
    parser.add_argument("--json", metavar="PATH", help="also write the results here")
    return parser.parse_args()


def main() -> None:
    # float32 means float32, as in the workflow (compute.tf32: false).
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    args = parse_args()
    torch.set_num_threads(args.threads)
    info = header(args)
    rows = measure(args)
    print_report(info, rows)
    if args.json:
        result = [{**asdict(row), "host_share_percent": row.host_share_percent} for row in rows]
        with open(args.json, "w") as file:
            json.dump({**info, "rows": result}, file, indent=2)


if __name__ == "__main__":
    main()
