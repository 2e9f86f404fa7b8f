"""Snakemake adapter: the ImageNet training subset for distillation, decoded once into the
canonical space."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import torch

from satsim.compute.runtime import make_deterministic
from satsim.data.imagenet import decode_images, train_subset
from satsim.data.imagenet_layout import NUM_CLASSES
from satsim.workflow.artifacts import save_tensors, sha256_tensors
from satsim.workflow.provenance import make_record
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic):
    params = snakemake.params
    paths, labels = train_subset(params.root, params.n_classes, params.per_class, params.seed)
    print(f"{len(paths)} training images of {params.n_classes} classes from {params.root}")
    images = torch.from_numpy(decode_images(paths, params.canonical_size, snakemake.threads))
    labels = torch.tensor(labels, dtype=torch.int64)
    ids = torch.arange(len(labels), dtype=torch.int64)
    record = make_record(
        kind="images",
        dataset="ILSVRC2012-train",
        split="train",
        seed=params.seed,
        classes=sorted(set(labels.tolist())),
        canonical_size=params.canonical_size,
        num_classes=NUM_CLASSES,
        n_images=len(ids),
        data_sha256=sha256_tensors(images, labels, ids),
    )
    save_tensors(snakemake.output.train, {"images": images, "labels": labels, "ids": ids}, record)
