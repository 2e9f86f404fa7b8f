"""How small a bundle is: encodings of the adversarial sets as perturbations, the bundle against
its run folder, and the paper run's bundle projected from the measured bytes.

    python benchmarks/bundle_size.py RUN_DIR [RUN_DIR ...] [--paper-accuracy 0.8]

RUN_DIR is a finished computed run (results/<run>, with data/eval.safetensors and
adversarial/). Part 1, per run: each candidate encoding of ``adversarial - clean`` (and, for
reference, the adversarial images themselves compressed), in bytes per image and bits per
sub-pixel, with the entropy of the perturbation's values (the floor for a code that looks at one
sub-pixel at a time) over all sub-pixels and over those whose clean value is not 0 or 255 (where
the attack is free to move both ways, as in most of an ImageNet photo). Part 2: the run's bundle
(results/<run>/bundle, if exported) against the run folder. Part 3, for a run attacked at the
paper's budget (epsilon 1/255): the paper bundle's projected size, part by part, from the
paper's shapes (69 models, 5,000 images of 3 x 256 x 256, 1,000 classes, each model's feature
width from timm) and the bits per sub-pixel measured here, and in the worst case.

The demo's models attacked at 1/255 (what the 2026-12-08 measurement in docs/paper-run.md used):
copy results/demo/{data,models,clean} to results/demo_eps1/, then run the attacks only,

    snakemake --cores all --configfile configs/demo.yaml --config run_name=demo_eps1 \\
        attack='{epsilon_255ths: 1, step_size_255ths: 0.25}' \\
        -- results/demo_eps1/adversarial/<model>.safetensors ...  # one per demo model
    python benchmarks/bundle_size.py results/demo results/demo_eps1
"""

from __future__ import annotations

import argparse
import bz2
import json
import lzma
import sys
import time
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from satsim.bundle import perturbations  # noqa: E402
from satsim.bundle.export import bundle_sizes  # noqa: E402
from satsim.workflow.artifacts import load_tensors  # noqa: E402

PAPER_MODELS, PAPER_IMAGES, PAPER_SIDE, PAPER_CLASSES = 69, 5000, 256, 1000
PAPER_GRADIENT_IMAGES = 256  # similarity.gradient_images' default


def candidates(delta: np.ndarray, adversarial: np.ndarray, epsilon: int) -> dict[str, bytes]:
    """Every encoding compared: name -> its bytes."""
    signed = delta.astype(np.int8).tobytes()
    return {
        "images zlib-9 (reference)": zlib.compress(adversarial.tobytes(), 9),
        "int8 zlib-9": zlib.compress(signed, 9),
        "int8 bz2-9": bz2.compress(signed, 9),
        "int8 lzma-6": lzma.compress(signed, preset=6),
        "base-L zlib-9": zlib.compress(_packed(delta, epsilon), 9),
        "base-L lzma-6 (chosen)": perturbations.encode(delta, epsilon),
    }


def _packed(delta: np.ndarray, epsilon: int) -> bytes:
    # The chosen encoding before LZMA: decompressing it gives the packed digits.
    return lzma.decompress(perturbations.encode(delta, epsilon, preset=0))


def entropy_bits(values: np.ndarray) -> float:
    if values.size == 0:
        return float("nan")
    _, counts = np.unique(values, return_counts=True)
    share = counts / counts.sum()
    return float(-(share * np.log2(share)).sum())


def measure_run(run_dir: Path) -> dict[str, float]:
    eval_tensors, _ = load_tensors(run_dir / "data" / "eval.safetensors")
    clean_all = eval_tensors["images"].numpy()
    totals: dict[str, float] = {}
    deltas, unclipped, images, subpixels, epsilon = [], [], 0, 0, None
    timings: dict[str, float] = {}
    for path in sorted((run_dir / "adversarial").glob("*.safetensors")):
        tensors, record = load_tensors(path)
        epsilon = int(record["attack"]["epsilon_255ths"])
        adversarial = tensors["images"].numpy()
        clean = clean_all[tensors["index"].numpy()]
        delta = perturbations.perturbation(adversarial, clean, epsilon)
        for name, blob in _timed(candidates, timings, delta, adversarial, epsilon).items():
            totals[name] = totals.get(name, 0) + len(blob)
        deltas.append(delta.reshape(-1))
        unclipped.append(delta[(clean > 0) & (clean < 255)])
        images += len(adversarial)
        subpixels += adversarial.size
        totals["raw images (uint8)"] = totals.get("raw images (uint8)", 0) + adversarial.nbytes
    all_values, free_values = np.concatenate(deltas), np.concatenate(unclipped)
    print(
        f"\n{run_dir}: {images} adversarial images, epsilon {epsilon}/255, "
        f"{subpixels // max(images, 1)} sub-pixels each"
    )
    print(
        f"  entropy of the perturbation: {entropy_bits(all_values):.3f} bits/sub-pixel over all, "
        f"{entropy_bits(free_values):.3f} where the clean value is 1..254 "
        f"({100 * free_values.size / all_values.size:.0f} % of sub-pixels)"
    )
    print(f"  {'encoding':<28}{'bytes/image':>14}{'bits/sub-pixel':>16}{'vs raw':>9}")
    for name, size in sorted(totals.items(), key=lambda item: -item[1]):
        print(
            f"  {name:<28}{size / images:>14,.0f}{8 * size / subpixels:>16.3f}"
            f"{size / totals['raw images (uint8)']:>9.3f}"
        )
    print(
        "  encode time for the whole run (s): "
        + ", ".join(f"{name.split(' (')[0]} {seconds:.2f}" for name, seconds in timings.items())
    )
    return {
        "epsilon": epsilon,
        "bits_chosen": 8 * totals["base-L lzma-6 (chosen)"] / subpixels,
        "bytes_per_image_chosen": totals["base-L lzma-6 (chosen)"] / images,
    }


def _timed(function, timings, *args):
    start = time.perf_counter()
    result = function(*args)
    timings["all candidates"] = timings.get("all candidates", 0.0) + time.perf_counter() - start
    return result


def bundle_against_run(run_dir: Path) -> None:
    manifest_path = run_dir / "bundle" / "manifest.json"
    if not manifest_path.is_file():
        print(f"  (no bundle in {run_dir}: run 'snakemake bundle' to compare)")
        return
    sizes = bundle_sizes(json.loads(manifest_path.read_text()))
    run_bytes = sum(
        p.stat().st_size
        for p in run_dir.rglob("*")
        if p.is_file() and "bundle" not in p.relative_to(run_dir).parts[:1]
    )
    print(
        f"  run folder {run_bytes:,} bytes (bundle/ aside); bundle {sizes['total']:,} bytes "
        f"({sizes['total'] / run_bytes:.2f} of the run): perturbations "
        f"{sizes['perturbations']:,} (the adversarial sets are {sizes['adversarial_as_images']:,} "
        f"as images), other files {sizes['other']:,}"
    )


def feature_widths() -> list[int]:
    """Each paper model's feature width (the classifier's input), from timm without weights."""
    import timm
    import torch

    from satsim.models.registry import load_registry

    widths = []
    for spec in load_registry(REPO / "configs" / "models" / "paper.yaml").values():
        with torch.device("meta"):
            model = timm.create_model(spec.architecture, pretrained=False, **spec.kwargs)
        widths.append(int(model.num_features))
    return widths


def independent_values(epsilon: int, count: int = 3072 * 2000, seed: int = 0) -> float:
    """Bits per sub-pixel of each encoding on independent, uniform values in -eps..eps (no
    structure to exploit: the worst case, where packing bounds the chosen encoding); returns the
    chosen encoding's."""
    delta = np.random.default_rng(seed).integers(-epsilon, epsilon + 1, count).astype(np.int16)
    sizes = {
        "int8 lzma-6": len(lzma.compress(delta.astype(np.int8).tobytes(), preset=6)),
        "base-L lzma-6 (chosen)": len(perturbations.encode(delta, epsilon)),
    }
    print(
        f"  independent uniform values at epsilon {epsilon} (worst case): "
        + ", ".join(f"{name} {8 * size / count:.3f}" for name, size in sizes.items())
        + f" bits/sub-pixel (entropy {np.log2(2 * epsilon + 1):.3f})"
    )
    return 8 * sizes["base-L lzma-6 (chosen)"] / count


def paper_projection(bits_per_subpixel: float, label: str, accuracy: float) -> None:
    attacked = int(PAPER_IMAGES * accuracy)
    subpixels = 3 * PAPER_SIDE * PAPER_SIDE
    widths = feature_widths()
    parts = {
        f"perturbations ({label})": PAPER_MODELS * attacked * subpixels * bits_per_subpixel / 8,
        "clean logits + predictions": PAPER_MODELS * PAPER_IMAGES * (PAPER_CLASSES * 4 + 8),
        "features (float16)": sum(PAPER_IMAGES * width * 2 for width in widths),
        "gradient signs (bits)": PAPER_MODELS * PAPER_GRADIENT_IMAGES * subpixels / 8,
        "transfer + pair store": 2 * PAPER_MODELS * PAPER_MODELS * attacked * 16,
    }
    raw = PAPER_MODELS * attacked * subpixels
    total = sum(parts.values())
    print(
        f"\nPaper bundle, projected ({PAPER_MODELS} models, {attacked} attacked images each "
        f"= {accuracy:.0%} of {PAPER_IMAGES}):"
    )
    for name, size in parts.items():
        print(f"  {name:<44}{size / 1e9:>8.2f} GB")
    print(f"  {'total':<44}{total / 1e9:>8.2f} GB  (raw adversarial sets: {raw / 1e9:.1f} GB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument(
        "--paper-accuracy",
        type=float,
        default=0.8,
        help="share of the 5,000 images a paper model classifies correctly",
    )
    args = parser.parse_args()
    for run_dir in args.runs:
        measured = measure_run(run_dir)
        bundle_against_run(run_dir)
        worst = independent_values(measured["epsilon"])
        if measured["epsilon"] == 1:
            paper_projection(measured["bits_chosen"], "as measured here", args.paper_accuracy)
            # ImageNet photos are not digits: the bound for perturbations with no structure.
            paper_projection(worst, "structureless worst case", args.paper_accuracy)


if __name__ == "__main__":
    main()
