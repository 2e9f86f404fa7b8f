"""Snakemake adapter: the ImageNet evaluation subset, decoded once into the canonical space."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import torch

from satsim.compute.runtime import make_deterministic
from satsim.data.imagenet import check_label_file, decode_images, read_subset
from satsim.data.imagenet_layout import NUM_CLASSES, detect_layout, locate_images
from satsim.workflow.artifacts import save_tensors, sha256_tensors
from satsim.workflow.atomic import sha256_file
from satsim.workflow.provenance import make_record
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic):
    params = snakemake.params
    subset_path = snakemake.input.subset
    subset = read_subset(subset_path, params.eval_size)
    layout = detect_layout(params.imagenet_val)
    print(f"{params.imagenet_val}: {layout} layout; {len(subset)} images from {subset_path}")
    paths = locate_images(params.imagenet_val, subset)
    if params.imagenet_labels:
        check_label_file(params.imagenet_labels, subset, subset_path)
        print(f"{params.imagenet_labels} agrees with the subset's labels")

    images = torch.from_numpy(decode_images(paths, params.canonical_size, snakemake.threads))
    labels = torch.tensor([entry.label for entry in subset], dtype=torch.int64)
    ids = torch.tensor([entry.id for entry in subset], dtype=torch.int64)
    record = make_record(
        kind="images",
        dataset="ILSVRC2012-val",
        split="eval",
        layout=layout,
        subset=Path(subset_path).name,
        subset_sha256=sha256_file(subset_path),
        canonical_size=params.canonical_size,
        num_classes=NUM_CLASSES,
        n_images=len(ids),
        data_sha256=sha256_tensors(images, labels, ids),
    )
    save_tensors(snakemake.output.eval, {"images": images, "labels": labels, "ids": ids}, record)
    print(f"eval: {len(ids)} images, sha256 {record['data_sha256']}")
