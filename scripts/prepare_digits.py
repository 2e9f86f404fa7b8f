"""Snakemake adapter: the demo's eval and train image sets from scikit-learn's digits."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import torch

from satsim.compute.runtime import make_deterministic
from satsim.data.digits import NUM_CLASSES, digits_images, eval_train_split
from satsim.workflow.artifacts import save_tensors, sha256_tensors
from satsim.workflow.provenance import make_record
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic):
    params = snakemake.params
    images, labels = digits_images(params.canonical_size)
    splits = eval_train_split(len(labels), params.eval_size, params.seed)
    for split, ids in zip(("eval", "train"), splits, strict=True):
        ids = torch.from_numpy(ids)
        tensors = {"images": images[ids], "labels": labels[ids], "ids": ids}
        record = make_record(
            kind="images",
            dataset="sklearn-digits",
            split=split,
            seed=params.seed,
            canonical_size=params.canonical_size,
            num_classes=NUM_CLASSES,
            n_images=len(ids),
            data_sha256=sha256_tensors(*tensors.values()),
        )
        save_tensors(snakemake.output[split], tensors, record)
        print(f"{split}: {len(ids)} images, sha256 {record['data_sha256']}")
