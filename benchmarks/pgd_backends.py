"""Time the native and advertorch PGD backends on the same model, images and attack.

    python benchmarks/pgd_backends.py [--images 256] [--steps 10] [--repeats 3] [--threads 2]

Prints images x steps per second for each backend and the speed ratio (native / advertorch).
Uses a demo-zoo architecture with random weights: speed does not depend on what the weights are.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from satsim.attack.pgd import AttackSettings, pgd_attack
from satsim.data.digits import digits_images
from satsim.models.factory import build_model, canonical_model
from satsim.models.registry import load_registry

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet10t", help="demo registry model")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = load_registry(REPO / "configs" / "models" / "demo.yaml")[args.model]
    images, labels = digits_images(32)
    images, labels = images[: args.images], labels[: args.images]
    ids = torch.arange(len(images))

    seconds = {}
    for backend in ("native", "advertorch"):
        torch.manual_seed(0)  # the same weights for both; a fresh model so neither sees the
        model = canonical_model(
            spec, build_model(spec, num_classes=10)
        ).eval()  # other's memory layout
        settings = AttackSettings(
            epsilon_255ths=8, step_size_255ths=2, steps=args.steps, backend=backend
        )
        pgd_attack(model, images[:8], labels[:8], ids[:8], settings, seed=0)  # warm-up
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            pgd_attack(model, images, labels, ids, settings, seed=0, batch_size=args.batch_size)
            runs.append(time.perf_counter() - start)
        seconds[backend] = statistics.median(runs)
        rate = args.images * args.steps / seconds[backend]
        print(
            f"{backend:>10}: {seconds[backend]:.3f} s median of {args.repeats} "
            f"({rate:,.0f} images x steps / s)"
        )
    print(
        f"model {args.model}, {args.images} images, {args.steps} steps, "
        f"{args.threads} threads, torch {torch.__version__}"
    )
    print(f"native is {seconds['advertorch'] / seconds['native']:.2f}x as fast as advertorch")


if __name__ == "__main__":
    main()
