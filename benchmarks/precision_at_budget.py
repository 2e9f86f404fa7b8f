"""Does bf16 autocast change PGD and transfer at a given budget, compared with float32?

    python benchmarks/precision_at_budget.py [--run results/demo] [--epsilon-255ths 1]
        [--step-size-255ths 0.25] [--steps 10] [--models a b ...] [--json out.json]

Why: the workflow's ``compute.autocast`` switches every forward pass (clean predictions, PGD,
transfer) to bf16. At the paper's budget (1/255, ten steps of 0.25/255) a perturbation is one
pixel level, so rounding in the logits could plausibly decide which images are fooled. This
benchmark attacks each model of a finished run twice, float32 and bf16, on the same images
(those the model classifies correctly in float32), with the same seeded random start, and
reports per model the white-box success of each (judged by the model at the attack's own
precision, as the workflow does) and the fraction of adversarial pixel values that differ.
It then evaluates every source's adversarial set on every target at the same precision and
compares the off-diagonal directional transfer-rate matrices (``satsim.similarity.sat``'s
definition: percent of X_AB, the images both source and target classify correctly, whose adversarial
version made on the source fools the target). X_AB is taken from the float32 clean predictions
for both precisions, so the two matrices share their denominators and differ only through the
attacks and the targets' precision; the ``clean flips`` column counts the eval images whose
clean prediction bf16 changes.

Caveat: this runs on the CPU, whose bf16 autocast (oneDNN kernels, its own choice of which ops
run in bf16 and how they accumulate) is only a proxy for GPU bf16 (cuDNN/cuBLAS kernels,
different op lists and accumulation); a GPU run may differ in detail.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from satsim.attack.pgd import AttackSettings, pgd_attack
from satsim.compute.runtime import with_precision
from satsim.models.predict import predict_classes
from satsim.models.registry import Registry, load_registry
from satsim.models.weights import load_model
from satsim.workflow.artifacts import ImageSet

PRECISIONS = ("none", "bf16")  # as satsim.compute.runtime names them: none = float32
DEVICE = "cpu"


@dataclass
class ModelRun:
    """One model at both precisions: its correct-in-fp32 images and both adversarial sets."""

    name: str
    models: dict[str, nn.Module]  # precision -> model
    correct: np.ndarray  # (N,) bool, float32 clean prediction == label
    clean_flips: int  # eval images whose clean prediction bf16 changes
    index: torch.Tensor  # positions of the attacked images in the eval set
    adversarial: dict[str, torch.Tensor]  # precision -> (M, 3, H, W) uint8
    success: dict[str, float]  # precision -> white-box success in [0, 1]
    seconds: dict[str, float]  # precision -> attack wall time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("results/demo"))
    parser.add_argument("--registry", type=Path, default=Path("configs/models/demo.yaml"))
    parser.add_argument("--models", nargs="+", help="default: every model of the run")
    parser.add_argument("--epsilon-255ths", type=int, default=1)
    parser.add_argument("--step-size-255ths", type=float, default=0.25)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    return parser.parse_args()


def run_models(run: Path, registry: Registry, requested: list[str] | None) -> list[str]:
    """The requested models, or every model with a card in the run, in registry order."""
    if requested:
        return requested
    in_run = {card.stem for card in (run / "models").glob("*.json")}
    return [name for name in registry if name in in_run]


def load_both_precisions(
    run: Path, registry: Registry, name: str, num_classes: int
) -> dict[str, nn.Module]:
    """The run's trained model as float32 (``none``) and under CPU bf16 autocast (one copy)."""
    spec = registry.get_spec(name)
    weights, card = run / "models" / f"{name}.safetensors", run / "models" / f"{name}.json"
    model, _ = load_model(spec, weights, num_classes, card)
    return {precision: with_precision(model, precision, DEVICE) for precision in PRECISIONS}


def attack_model(
    name: str,
    models: dict[str, nn.Module],
    data: ImageSet,
    settings: AttackSettings,
    seed: int,
    batch_size: int,
) -> ModelRun:
    clean = {p: predict_classes(models[p], data.images, batch_size) for p in PRECISIONS}
    correct = (clean["none"] == data.labels).numpy()
    index = torch.from_numpy(np.flatnonzero(correct))
    adversarial, success, seconds = {}, {}, {}
    for precision in PRECISIONS:
        start = time.perf_counter()
        result = pgd_attack(
            models[precision],
            data.images[index],
            data.labels[index],
            data.ids[index],
            settings,
            seed=seed,
            batch_size=batch_size,
        )
        adversarial[precision], success[precision] = result.images, result.success_rate
        seconds[precision] = time.perf_counter() - start
    clean_flips = int((clean["none"] != clean["bf16"]).sum())
    return ModelRun(name, models, correct, clean_flips, index, adversarial, success, seconds)


def differing_pixel_fraction(first: torch.Tensor, second: torch.Tensor) -> float:
    return float((first != second).float().mean()) if first.numel() else math.nan


def directional_rates(
    runs: list[ModelRun], labels: np.ndarray, precision: str, batch_size: int
) -> np.ndarray:
    """(source, target) percent of X_AB whose source-made adversarial image fools the target."""
    rates = np.full((len(runs), len(runs)), np.nan)
    for i, source in enumerate(runs):
        source_labels = labels[source.index.numpy()]
        for j, target in enumerate(runs):
            pred = predict_classes(
                target.models[precision], source.adversarial[precision], batch_size
            ).numpy()
            in_common = target.correct[source.index.numpy()]  # source.correct holds on index
            if in_common.any():
                fooled = (pred != source_labels) & in_common
                rates[i, j] = 100.0 * fooled.sum() / in_common.sum()
    return rates


def compare_transfer(fp32: np.ndarray, bf16: np.ndarray) -> dict[str, float]:
    off_diagonal = ~np.eye(len(fp32), dtype=bool)
    both_defined = off_diagonal & ~np.isnan(fp32) & ~np.isnan(bf16)
    a, b = fp32[both_defined], bf16[both_defined]
    upper = np.triu(both_defined, k=1)
    pair_fp32, pair_bf16 = (
        (fp32 + fp32.T) / 2,
        (bf16 + bf16.T) / 2,
    )  # satsim.similarity.sat's symmetric rate
    return {
        "n_entries": int(both_defined.sum()),
        "mean_rate_fp32": float(a.mean()),
        "mean_rate_bf16": float(b.mean()),
        "mean_abs_diff_pp": float(np.abs(a - b).mean()),
        "max_abs_diff_pp": float(np.abs(a - b).max()),
        "spearman_directional": float(spearmanr(a, b).statistic),
        "spearman_pair_rate": float(spearmanr(pair_fp32[upper], pair_bf16[upper]).statistic),
    }


def print_table(runs: list[ModelRun]) -> None:
    print(
        f"{'model':<12} {'attacked':>8} {'wb fp32 %':>10} {'wb bf16 %':>10} "
        f"{'pixels differ %':>16} {'clean flips':>12} {'s fp32':>7} {'s bf16':>7}"
    )
    for run in runs:
        pixels = differing_pixel_fraction(run.adversarial["none"], run.adversarial["bf16"])
        print(
            f"{run.name:<12} {len(run.index):>8} {100 * run.success['none']:>10.2f} "
            f"{100 * run.success['bf16']:>10.2f} {100 * pixels:>16.2f} {run.clean_flips:>12} "
            f"{run.seconds['none']:>7.1f} {run.seconds['bf16']:>7.1f}"
        )


def model_rows(runs: list[ModelRun]) -> list[dict[str, float | int | str]]:
    return [
        {
            "model": run.name,
            "n_attacked": len(run.index),
            "white_box_success_fp32": run.success["none"],
            "white_box_success_bf16": run.success["bf16"],
            "differing_pixel_fraction": differing_pixel_fraction(
                run.adversarial["none"], run.adversarial["bf16"]
            ),
            "clean_flips": run.clean_flips,
            "attack_seconds_fp32": run.seconds["none"],
            "attack_seconds_bf16": run.seconds["bf16"],
        }
        for run in runs
    ]


def main() -> None:
    args = parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    settings = AttackSettings(
        epsilon_255ths=args.epsilon_255ths,
        step_size_255ths=args.step_size_255ths,
        steps=args.steps,
        random_start=True,
        backend="native",
    )
    data = ImageSet(args.run / "data" / "eval.safetensors")
    labels = data.labels.numpy()
    registry = load_registry(args.registry)
    names = run_models(args.run, registry, args.models)

    start = time.perf_counter()
    runs = []
    for name in names:
        models = load_both_precisions(args.run, registry, name, data.num_classes)
        runs.append(attack_model(name, models, data, settings, args.seed, args.batch_size))
    attack_seconds = time.perf_counter() - start
    rates = {p: directional_rates(runs, labels, p, args.batch_size) for p in PRECISIONS}
    transfer = compare_transfer(rates["none"], rates["bf16"])
    seconds = time.perf_counter() - start

    print(
        f"PGD eps {settings.epsilon_255ths}/255, step {settings.step_size_255ths}/255, "
        f"{settings.steps} steps, random start, native, seed {args.seed}; {len(data.labels)} "
        f"eval images; CPU bf16 autocast vs float32; torch {torch.__version__}"
    )
    print_table(runs)
    success_gap = [100 * (r.success["bf16"] - r.success["none"]) for r in runs]
    print(
        f"transfer over {transfer['n_entries']} off-diagonal (source, target) entries: "
        f"mean rate fp32 {transfer['mean_rate_fp32']:.2f} %, bf16 "
        f"{transfer['mean_rate_bf16']:.2f} %; |diff| mean {transfer['mean_abs_diff_pp']:.2f} pp, "
        f"max {transfer['max_abs_diff_pp']:.2f} pp; Spearman directional "
        f"{transfer['spearman_directional']:.4f}, pair (SAT) rate "
        f"{transfer['spearman_pair_rate']:.4f}"
    )
    print(
        f"summary: {len(runs)} models, white-box bf16 - fp32 mean {np.mean(success_gap):+.2f} pp "
        f"(max |.| {np.max(np.abs(success_gap)):.2f}), transfer |diff| mean "
        f"{transfer['mean_abs_diff_pp']:.2f} pp, Spearman {transfer['spearman_directional']:.4f}; "
        f"{seconds:.1f} s ({attack_seconds:.1f} s attacking)"
    )
    if args.json:
        record = {
            "attack": {**settings.describe(), "seed": args.seed},
            "models": model_rows(runs),
            "transfer": transfer,
            "directional_rate_fp32": rates["none"].tolist(),
            "directional_rate_bf16": rates["bf16"].tolist(),
            "model_order": names,
            "seconds": seconds,
            "torch": torch.__version__,
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
