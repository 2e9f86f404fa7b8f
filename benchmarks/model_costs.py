"""Per-model cost of the paper run at full resolution: clean-evaluation and attack throughput,
peak memory and weights size, for registry models with random weights (speed does not depend
on the weights, and nothing is downloaded).

    python benchmarks/model_costs.py [--models rexnet_150 resnet50 ...] [--images 64]
        [--steps 10] [--batch-size 32] [--device auto] [--autocast none|bf16] [--contiguous]
        [--compile]

Prints one row per model: images / s for clean evaluation, images x steps / s for PGD (the unit
that scales with attack.steps), peak memory (GPU: max allocated; CPU: the process's peak RSS so
far) and the fp32 weights in MB. On a GPU this is the measurement the cost table of
docs/paper-run.md asks for; on a CPU it gives CPU figures.
"""

from __future__ import annotations

import argparse
import resource
import time
from functools import partial
from pathlib import Path

import torch

from satsim.attack.pgd import AttackSettings, pgd_attack
from satsim.compute import feeding
from satsim.compute.runtime import select_device, with_precision
from satsim.models.factory import build_model, canonical_model
from satsim.models.predict import predict_logits
from satsim.models.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ["rexnet_150", "efficientnet_b2", "deit_small_patch16_224", "resnet50"]


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=str(REPO / "configs" / "models" / "paper.yaml"))
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--canonical-size", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--autocast", default="none", choices=["none", "bf16"])
    parser.add_argument(
        "--contiguous", action="store_true", help="no channels-last (to see what it buys)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile each model (warm-up included)"
    )
    args = parser.parse_args()
    feeding.USE_CHANNELS_LAST = not args.contiguous
    # float32 means float32, as in the workflow (compute.tf32: false); torch's default would run
    # convolutions in TF32.
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False

    device = select_device(args.device)
    registry = load_registry(args.registry)
    generator = torch.Generator().manual_seed(0)
    size = args.canonical_size
    images = torch.randint(0, 256, (args.images, 3, size, size), generator=generator)
    images = images.to(torch.uint8)
    labels = torch.randint(0, 1000, (args.images,), generator=generator)
    ids = torch.arange(args.images)
    settings = AttackSettings(epsilon_255ths=1, step_size_255ths=0.25, steps=args.steps)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device {name} ({torch.get_num_threads()} threads), autocast {args.autocast}, "
        f"{'contiguous' if args.contiguous else 'channels-last'}"
        f"{', torch.compile' if args.compile else ''}, "
        f"{args.images} images at {size} px, {args.steps} PGD steps, batch {args.batch_size}"
    )
    print(
        f"{'model':<28}{'input':>6}{'eval img/s':>12}{'PGD img*step/s':>16}"
        f"{'peak MB':>10}{'weights MB':>12}"
    )
    for model_name in args.models:
        spec = registry.get_spec(model_name)
        torch.manual_seed(0)
        bare = build_model(spec)
        weights_mb = sum(p.numel() * 4 for p in bare.parameters()) / 2**20
        model = with_precision(canonical_model(spec, bare).eval(), args.autocast, device).to(device)
        if args.compile:
            model = torch.compile(model, dynamic=False)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        # Warm-up at the timed batch shape: cuDNN's and the allocator's first use, and
        # torch.compile's graphs (no-grad, input-gradient, success check), stay out of the timing.
        warm = min(args.batch_size, args.images)
        predict_logits(model, images[:warm], args.batch_size, device)
        pgd_attack(
            model, images[:warm], labels[:warm], ids[:warm], settings, 0, args.batch_size, device
        )
        eval_s = timed(partial(predict_logits, model, images, args.batch_size, device), device)
        attack = partial(
            pgd_attack, model, images, labels, ids, settings, 0, args.batch_size, device
        )
        attack_s = timed(attack, device)
        print(
            f"{model_name:<28}{spec.input_size:>6}{args.images / eval_s:>12.1f}"
            f"{args.images * args.steps / attack_s:>16.1f}{peak_memory_mb(device):>10.0f}"
            f"{weights_mb:>12.1f}"
        )
        del model, bare, attack
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
