"""Snakemake adapter: one model's loss-gradient signs at the first n clean eval images (packed
bits), for the gradient similarity measure."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import torch

from satsim.compute.runtime import make_deterministic
from satsim.similarity.representations import input_gradient_signs
from satsim.workflow.artifacts import save_tensors
from satsim.workflow.model_job import execution_settings, load_model_job
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic) as log:
    job = load_model_job(snakemake)
    data, spec = job.data, job.spec
    index = torch.arange(snakemake.params.n_images)  # at most data.eval_size (common.smk)
    images = data.images[: len(index)]
    signs = input_gradient_signs(
        job.model,
        images,
        data.labels[index],
        execution_settings(snakemake).attack_batch_size,
        job.device,
        progress=log,
    )
    n_positions = int(images[0].numel())
    print(f"{spec.name}: gradient signs of {len(index)} images, {signs.numel() / 1e6:.1f} MB")
    record = job.record("gradient_signs", n_positions=n_positions)
    save_tensors(snakemake.output[0], {"signs": signs, "index": index}, record)
