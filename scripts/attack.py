"""Snakemake adapter: PGD on one model, over the eval images it classifies correctly."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import torch

from satsim.attack.pgd import AttackSettings, pgd_attack
from satsim.compute.runtime import make_deterministic
from satsim.workflow.artifacts import load_tensors, save_tensors
from satsim.workflow.model_job import execution_settings, load_model_job
from satsim.workflow.provenance import check_agreement, check_weights, make_record
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic) as log:
    params = snakemake.params
    job = load_model_job(snakemake)
    device, data, spec, model, sha = (job.device, job.data, job.spec, job.model, job.weights_sha256)
    clean, clean_record = load_tensors(snakemake.input.clean)
    check_weights(snakemake.input.clean, clean_record, sha)
    check_agreement(
        {snakemake.input.eval: data.record, snakemake.input.clean: clean_record}, ["data_sha256"]
    )

    attack_options = dict(params.attack)
    attack_options.pop("batch_size", None)  # a param only for advertorch (see common.smk)
    batch_size = execution_settings(snakemake).attack_batch_size
    settings = AttackSettings(**attack_options)
    # advertorch's random start depends on the batch: then the batch size is part of the attack.
    batch_dependence = {"batch_size": batch_size} if settings.backend == "advertorch" else {}
    index = torch.nonzero(clean["pred"] == data.labels).flatten()
    result = pgd_attack(
        model,
        data.images[index],
        data.labels[index],
        data.ids[index],
        settings,
        seed=params.seed,
        batch_size=batch_size,
        device=device,
        progress=log,
    )
    print(
        f"{spec.name}: attacked {len(index)} images, white-box success "
        f"{100 * result.success_rate:.2f} % (after rounding to the 1/255 grid)"
    )
    record = make_record(
        kind="adversarial",
        model=spec.name,
        weights_sha256=sha,
        data_sha256=data.data_sha256,
        attack={**settings.describe(), "seed": params.seed, **batch_dependence},
        precision=job.precision,
        numerics=job.numerics,
        n_attacked=len(index),
        white_box_success=result.success_rate,
    )
    save_tensors(
        snakemake.output[0],
        {"images": result.images, "index": index, "fooled": result.fooled},
        record,
    )
