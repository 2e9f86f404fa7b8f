"""Where the user's ILSVRC2012 validation copy keeps its images (standard library only: the
Snakefile checks the folder with this module before any job starts).

Two layouts are understood:

- ``synset_folders``: one sub-folder per WordNet id, ``val/n01440764/ILSVRC2012_val_00000293.JPEG``
  (what the usual ``valprep.sh`` and torchvision's ``ImageFolder`` expect);
- ``flat``: the 50,000 ``ILSVRC2012_val_*.JPEG`` files in one folder, as the official archive
  unpacks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NUM_CLASSES = 1000
WNID = re.compile(r"^n\d{8}$")
VAL_IMAGE = re.compile(r"^ILSVRC2012_val_(\d{8})\.JPEG$")
SYNSET_FOLDERS, FLAT = "synset_folders", "flat"


class ImageNetError(ValueError):
    """The user's ImageNet copy or label file cannot be used; the message says what to do."""


@dataclass(frozen=True)
class SubsetImage:
    """One evaluation image: file name, WordNet id and class index (timm/torchvision order)."""

    image: str
    wnid: str
    label: int

    @property
    def id(self) -> int:
        """The number in the file name (1..50000): the image's stable id."""
        return image_number(self.image)


def image_number(name: str) -> int:
    match = VAL_IMAGE.match(name)
    if not match:
        raise ImageNetError(f"{name!r} is not an ILSVRC2012 validation file name")
    return int(match.group(1))


def detect_layout(root: str | os.PathLike) -> str:
    """``synset_folders`` or ``flat``; anything else is an error that says what was found."""
    root = Path(root)
    if not root.is_dir():
        raise ImageNetError(
            f"data.imagenet_val = {root}: no such folder. Point it at the ILSVRC2012 validation "
            "images (one sub-folder per synset, or the 50,000 JPEGs in one folder)"
        )
    with os.scandir(root) as entries:  # stops at the first telling entry: fast on network disks
        for entry in entries:
            if WNID.match(entry.name) and entry.is_dir():
                return SYNSET_FOLDERS
            if VAL_IMAGE.match(entry.name) and entry.is_file():
                return FLAT
    raise ImageNetError(
        f"data.imagenet_val = {root} holds neither synset folders (n01440764/, ...) nor "
        "ILSVRC2012_val_*.JPEG files. Point it at the ILSVRC2012 validation folder itself"
    )


def locate_images(root: str | os.PathLike, subset: Sequence[SubsetImage]) -> list[Path]:
    """The path of every subset image in the user's folder, checking its synset folder.

    Raises :class:`ImageNetError` naming missing images, or an image filed under another class.
    """
    root = Path(root)
    layout = detect_layout(root)
    if layout == FLAT:
        paths = [root / entry.image for entry in subset]
    else:
        paths = [root / entry.wnid / entry.image for entry in subset]
    missing = [entry for entry, path in zip(subset, paths, strict=True) if not path.is_file()]
    if missing and layout == SYNSET_FOLDERS:
        _check_synset_folders(root, missing)
    if missing:
        example = paths[subset.index(missing[0])]
        raise ImageNetError(
            f"data.imagenet_val = {root} ({layout} layout): {len(missing)} of the {len(subset)} "
            f"evaluation images are missing, e.g. {example}. Is this the complete ILSVRC2012 "
            "validation set?"
        )
    return paths


def _check_synset_folders(root: Path, missing: Sequence[SubsetImage]) -> None:
    """An image missing from its class folder may sit in another one: then the folders were
    sorted by a different ground truth, which would silently mislabel images."""
    wanted = {entry.image: entry for entry in missing}
    for folder in sorted(root.iterdir()):
        if not folder.is_dir():
            continue
        for name in wanted.keys() & set(os.listdir(folder)):
            raise ImageNetError(
                f"{folder / name} is filed under {folder.name}, but the ILSVRC2012 ground truth "
                f"says {wanted[name].wnid}. The synset folders under {root} disagree with the "
                "official labels; rebuild them (e.g. with valprep.sh) or use the flat layout"
            )
