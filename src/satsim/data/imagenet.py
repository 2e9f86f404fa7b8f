"""The ImageNet evaluation set: which validation images, where the user's copy keeps them, their
labels, and their decoding into the canonical pixel space.

Canonical pixel space (``data.canonical_size`` = S, 256 by default): the central square of each
photo (side = its shorter side) resized to S x S with PIL's bicubic filter, RGB uint8. Every model's
wrapper then crops its own ``crop_pct`` from the centre and resizes to its native input (see
:class:`satsim.models.wrapper.CanonicalModel`), which reproduces timm's eval transform (resize the
shorter side to ``input_size / crop_pct``, centre-crop ``input_size``). A 224-pixel model with
``crop_pct`` 0.875 reads the central 224 x 224 canonical pixels as they are.

Where the user's copy keeps the images is :mod:`satsim.data.imagenet_layout`'s job.

The labels come with the subset list (``configs/imagenet/val_subset.csv``, made from the official
ground truth by ``tools/make_imagenet_subset.py``). The user's own labels are checked against it:
the folder names in the ``synset_folders`` layout, and in the ``flat`` layout an optional label file
(:func:`read_label_file` lists the formats).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from timm.data import ImageNetInfo

from satsim.data.imagenet_layout import (
    NUM_CLASSES,
    WNID,
    ImageNetError,
    SubsetImage,
    image_number,
)


@cache
def synsets() -> tuple[str, ...]:
    """The 1000 ImageNet-1k WordNet ids in class-index order (sorted; as shipped with timm)."""
    return tuple(ImageNetInfo("imagenet-1k").label_names())


def read_subset(path: str | os.PathLike, size: int) -> list[SubsetImage]:
    """The first ``size`` images of a subset list (CSV with columns ``image,wnid[,label]``).

    The committed list is ordered round-robin over classes, so any prefix is class-balanced.
    """
    path = Path(path)
    if not path.exists():
        raise ImageNetError(f"subset list {path} not found (config key data.imagenet_subset)")
    index_of = {wnid: index for index, wnid in enumerate(synsets())}
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"image", "wnid"} <= set(rows[0]):
        raise ImageNetError(f"{path}: expected a CSV with the columns image,wnid[,label]")
    if size > len(rows):
        raise ImageNetError(
            f"data.eval_size is {size} but the subset list {path} has only {len(rows)} images; "
            "lower data.eval_size or name a longer list in data.imagenet_subset"
        )
    subset = []
    for line, row in enumerate(rows[:size], start=2):
        wnid = row["wnid"]
        if wnid not in index_of:
            raise ImageNetError(f"{path}, line {line}: {wnid!r} is not an ImageNet-1k class")
        if row.get("label") not in (None, "") and int(row["label"]) != index_of[wnid]:
            raise ImageNetError(
                f"{path}, line {line}: label {row['label']} does not match {wnid} "
                f"(class {index_of[wnid]})"
            )
        image_number(row["image"])
        subset.append(SubsetImage(row["image"], wnid, index_of[wnid]))
    if len({entry.image for entry in subset}) != len(subset):
        raise ImageNetError(f"{path}: an image is listed twice")
    return subset


def read_label_file(path: str | os.PathLike) -> dict[str, str]:
    """Image file name -> WordNet id, from one of these ground-truth formats:

    - ``LOC_val_solution.csv`` (Kaggle): ``ImageId,PredictionString``, the string starting with
      the WordNet id;
    - two columns, ``<file name> <label>`` separated by white space or a comma, the label a
      WordNet id or a class index 0..999 in timm/torchvision order (Caffe's ``val.txt``).

    The devkit's ``ILSVRC2012_validation_ground_truth.txt`` (one number per line) is refused: its
    numbers follow the devkit's own class order, not the class index of the models.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageNetError(f"data.imagenet_labels = {path}: no such file")
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    classes = synsets()
    labels: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if number == 1 and line.lower().startswith("imageid,"):
            continue
        fields = re.split(r"[,\s]+", line)
        if len(fields) < 2:
            hint = (
                " It looks like the devkit's ILSVRC2012_validation_ground_truth.txt, whose "
                "numbers follow the devkit's class order. Use LOC_val_solution.csv or a "
                "'<file> <wnid>' list, or leave data.imagenet_labels empty (the subset list "
                "carries the official labels)."
                if fields[0].isdigit()
                else ""
            )
            raise ImageNetError(f"{path}, line {number}: expected '<file name> <label>'.{hint}")
        name, label = fields[0], fields[1]
        if not name.endswith(".JPEG"):
            name += ".JPEG"  # LOC_val_solution.csv names images without the extension
        if label.isdigit() and int(label) < len(classes):
            label = classes[int(label)]
        if not WNID.match(label):
            raise ImageNetError(
                f"{path}, line {number}: {label!r} is neither a WordNet id nor 0..999"
            )
        labels[name] = label
    return labels


def check_label_file(
    path: str | os.PathLike, subset: Sequence[SubsetImage], subset_path: str | os.PathLike
) -> None:
    """Refuse a label file that disagrees with the subset's labels or lacks subset images."""
    labels = read_label_file(path)
    missing = [entry.image for entry in subset if entry.image not in labels]
    if missing:
        raise ImageNetError(
            f"data.imagenet_labels = {path} has no label for {len(missing)} evaluation images, "
            f"e.g. {missing[0]}: is it the ILSVRC2012 validation ground truth?"
        )
    wrong = [entry for entry in subset if labels[entry.image] != entry.wnid]
    if wrong:
        entry = wrong[0]
        raise ImageNetError(
            f"data.imagenet_labels = {path} disagrees with {subset_path} on {len(wrong)} of "
            f"{len(subset)} images, e.g. {entry.image}: {labels[entry.image]} vs {entry.wnid}. "
            "Is it the ILSVRC2012 validation ground truth (and not, e.g., ImageNetV2's)?"
        )


def canonical_image(path: str | os.PathLike, size: int) -> np.ndarray:
    """Decode one photo into the canonical space: (3, size, size) uint8, RGB.

    The central square (side = the shorter side) is resized with PIL's bicubic filter.
    """

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")  # a few ImageNet JPEGs are greyscale or CMYK
    except (OSError, UnidentifiedImageError) as error:
        raise ImageNetError(
            f"cannot decode {path} ({error}); replace it with an intact copy from your "
            "ILSVRC2012 archive"
        ) from error
    return np.asarray(canonical_square(image, size)).transpose(2, 0, 1).copy()


def canonical_square(image: object, size: int) -> object:
    """The central square of a PIL image, resized to ``size`` x ``size`` (bicubic)."""
    width, height = image.size
    side = min(width, height)
    left, top = int(round((width - side) / 2)), int(round((height - side) / 2))
    return image.resize(
        (size, size), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side)
    )


def decode_images(paths: Sequence[Path], size: int, threads: int = 1) -> np.ndarray:
    """(N, 3, size, size) uint8: every photo in the canonical space, decoded in ``threads``
    threads (PIL releases the GIL while it decodes and resizes)."""

    images = np.empty((len(paths), 3, size, size), dtype=np.uint8)

    def decode(index: int) -> None:
        images[index] = canonical_image(paths[index], size)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(decode, range(len(paths))))  # list() re-raises the first error
    return images


TRAIN_IMAGE = re.compile(r"^(n\d{8})_\d+\.JPEG$")


def train_classes(n_classes: int, seed: int) -> list[int]:
    """The class indices of the distillation training subset: ``n_classes`` drawn with ``seed``."""

    drawn = np.random.default_rng(seed).choice(NUM_CLASSES, n_classes, replace=False)
    return sorted(int(label) for label in drawn)


def train_subset(
    root: str | os.PathLike, n_classes: int, per_class: int, seed: int
) -> tuple[list[Path], list[int]]:
    """A deterministic subset of the ILSVRC2012 training images: ``n_classes`` classes drawn with
    ``seed``, and in each the first ``per_class`` files in name order.

    Layouts: one sub-folder per synset (``train/n01440764/n01440764_10026.JPEG``), or all files
    in one folder (the WordNet id is in each file name). Returns paths and class indices.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImageNetError(f"data.imagenet_train = {root}: no such folder")
    classes = synsets()
    chosen = train_classes(n_classes, seed)
    nested = any(WNID.match(entry.name) and entry.is_dir() for entry in os.scandir(root))
    if not nested:
        by_class: dict[str, list[str]] = {}
        for name in sorted(os.listdir(root)):
            match = TRAIN_IMAGE.match(name)
            if match:
                by_class.setdefault(match.group(1), []).append(name)
    paths, labels = [], []
    for label in chosen:
        wnid = classes[label]
        if nested:
            folder = root / wnid
            names = sorted(os.listdir(folder)) if folder.is_dir() else []
            files = [folder / name for name in names if name.endswith(".JPEG")]
        else:
            files = [root / name for name in by_class.get(wnid, [])]
        if len(files) < per_class:
            raise ImageNetError(
                f"data.imagenet_train = {root}: class {wnid} has {len(files)} training images, "
                f"fewer than distillation.train_images_per_class = {per_class}"
            )
        paths += files[:per_class]
        labels += [int(label)] * per_class
    return paths, labels
