"""Snakemake adapter: one target model classifies every source's adversarial set, reusing the
pairs that an earlier run already evaluated with the same weights, attack and data."""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.compute.runtime import make_deterministic
from satsim.similarity.transfer import check_transfer_inputs, save_transfer, transfer_pairs
from satsim.workflow.model_job import execution_settings, load_model_job
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic) as log:
    params, inputs = snakemake.params, snakemake.input
    job = load_model_job(snakemake)
    data, spec = job.data, job.spec
    adversarial = dict(zip(params.sources, inputs.adversarial, strict=True))
    cards = dict(zip(params.sources, inputs.cards, strict=True))
    source_records = check_transfer_inputs(
        data, inputs.clean, job.weights_sha256, adversarial, cards
    )

    def report(pair):
        fooled = (pair.pred != data.labels[pair.index]).float().mean()
        print(f"{pair.status} {pair.source} -> {spec.name}: {100 * float(fooled):.2f} % fooled")

    pairs = transfer_pairs(
        job.model,
        spec.identity(),
        job.weights_sha256,
        adversarial,
        params.pair_dir,
        job.precision,
        execution_settings(snakemake).batch_size,
        job.device,
        progress=log,
        on_pair=report,
    )
    counts = Counter(pair.status for pair in pairs.values())
    print(f"{spec.name}: {counts['computed']} pairs computed, {counts['reused']} reused")
    save_transfer(
        snakemake.output[0],
        pairs,
        source_records,
        model=spec.name,
        weights_sha256=job.weights_sha256,
        data_sha256=data.data_sha256,
        precision=job.precision,
        numerics=job.numerics,
    )
