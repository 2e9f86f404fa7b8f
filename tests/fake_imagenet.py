"""A small stand-in for the ILSVRC2012 validation folder, made by the tests: real JPEG files
with the real file names and labels of the first images of the committed subset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from satsim.data.imagenet import read_subset
from satsim.data.imagenet_layout import SubsetImage

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "configs" / "imagenet" / "val_subset.csv"


def photo(seed: int, size: tuple[int, int] = (200, 150)) -> Image.Image:
    """A photo-like RGB image (smooth colour field plus a sharp-edged block), ``size`` = (W, H)."""
    rng = np.random.default_rng(seed)
    width, height = size
    coarse = rng.random((6, 8, 3))
    field = np.asarray(
        Image.fromarray((coarse * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    ).copy()
    top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
    field[top : top + height // 3, left : left + width // 3] = rng.integers(0, 256, 3)
    return Image.fromarray(field)


def make_fake_imagenet(
    root: Path, n_images: int, layout: str, extra: int = 2, subset_list: Path = SUBSET
) -> list[SubsetImage]:
    """Write the first ``n_images`` images of ``subset_list`` (plus ``extra`` more, as a real copy
    has images outside the subset) in the ``flat`` or ``synset_folders`` layout; returns the
    subset entries."""
    subset = read_subset(subset_list, n_images + extra)
    for entry in subset:
        folder = root if layout == "flat" else root / entry.wnid
        folder.mkdir(parents=True, exist_ok=True)
        photo(entry.id).save(folder / entry.image, quality=90)
    return subset[:n_images]


def write_label_file(path: Path, subset: list[SubsetImage], style: str) -> Path:
    """Ground truth for ``subset`` as ``loc`` (Kaggle's LOC_val_solution.csv), ``wnid`` or
    ``index`` ('<file> <label>' lines)."""
    if style == "loc":
        lines = ["ImageId,PredictionString"] + [
            f"{entry.image.removesuffix('.JPEG')},{entry.wnid} 1 2 30 40" for entry in subset
        ]
    else:
        lines = [
            f"{entry.image} {entry.wnid if style == 'wnid' else entry.label}" for entry in subset
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def make_fake_train(root: Path, n_classes: int, per_class: int, seed: int, layout: str) -> None:
    """Training JPEGs (``n01440764_10026.JPEG`` names) for the classes that
    :func:`satsim.data.imagenet.train_subset` draws with ``seed``, one more per class than it
    takes."""
    from satsim.data.imagenet import synsets, train_classes

    for label in train_classes(n_classes, seed):
        wnid = synsets()[label]
        folder = root / wnid if layout == "synset_folders" else root
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(per_class + 1):
            photo(label * 100 + number, size=(96, 72)).save(folder / f"{wnid}_{number + 1}.JPEG")


if __name__ == "__main__":  # python tests/fake_imagenet.py DIR [N]: a folder for dry runs
    import sys

    make_fake_imagenet(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3, "flat")
