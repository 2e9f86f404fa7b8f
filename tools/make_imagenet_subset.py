"""Write the committed ImageNet evaluation subset: the 5 lowest-numbered validation images of each
class, ordered round-robin over classes so that every prefix of the list is class-balanced.

The ground truth comes from TensorFlow Datasets' copy of the ILSVRC2012 validation labels
(``tensorflow_datasets/datasets/imagenet2012/validation_labels.txt``: one WordNet id per line, in
the order ILSVRC2012_val_00000001 ... 00050000)::

    pip download tensorflow-datasets --no-deps && unzip -o tensorflow_datasets-*.whl \
        'tensorflow_datasets/datasets/imagenet2012/*'
    python tools/make_imagenet_subset.py \
        tensorflow_datasets/datasets/imagenet2012/validation_labels.txt \
        configs/imagenet/val_subset.csv
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

PER_CLASS = 5
NUM_CLASSES = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("validation_labels", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()

    wnids = args.validation_labels.read_text().split()
    if len(wnids) != 50_000:
        raise SystemExit(f"{args.validation_labels}: expected 50000 labels, found {len(wnids)}")
    classes = sorted(set(wnids))  # the class index order of timm and torchvision
    if len(classes) != NUM_CLASSES:
        raise SystemExit(f"expected {NUM_CLASSES} classes, found {len(classes)}")

    images_of = defaultdict(list)
    for number, wnid in enumerate(wnids, start=1):
        images_of[wnid].append(number)

    rows = []
    for rank in range(PER_CLASS):
        for label, wnid in enumerate(classes):
            number = images_of[wnid][rank]
            rows.append((f"ILSVRC2012_val_{number:08d}.JPEG", wnid, label))

    with args.output.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["image", "wnid", "label"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} images of {NUM_CLASSES} classes to {args.output}")


if __name__ == "__main__":
    main()
