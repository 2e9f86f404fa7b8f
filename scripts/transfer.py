"""Snakemake adapter: one target model classifies every source's adversarial set, reusing the
pairs that an earlier run already evaluated with the same weights, attack and data."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.compute.runtime import make_deterministic
from satsim.similarity.transfer import transfer_pairs
from satsim.workflow.artifacts import read_provenance, save_tensors
from satsim.workflow.atomic import read_json
from satsim.workflow.model_job import execution_settings, load_model_job
from satsim.workflow.provenance import MUST_AGREE, check_agreement, check_weights, make_record
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic) as log:
    params, inputs = snakemake.params, snakemake.input
    job = load_model_job(snakemake)
    data, spec, sha = job.data, job.spec, job.weights_sha256
    clean_record = read_provenance(inputs.clean)
    check_weights(inputs.clean, clean_record, sha)

    # Refuse to mix runs: one data subset, one attack, the weights each set was made from.
    adversarial = dict(zip(params.sources, inputs.adversarial, strict=True))
    cards = dict(zip(params.sources, inputs.cards, strict=True))
    records = {inputs.eval: data.record, inputs.clean: clean_record}
    records |= {path: read_provenance(path) for path in adversarial.values()}
    check_agreement(records, MUST_AGREE)
    for source, path in adversarial.items():
        check_weights(path, records[path], read_json(cards[source])["weights_sha256"])

    def report(pair):
        fooled = (pair.pred != data.labels[pair.index]).float().mean()
        print(f"{pair.status} {pair.source} -> {spec.name}: {100 * float(fooled):.2f} % fooled")

    pairs = transfer_pairs(
        job.model,
        spec.identity(),
        sha,
        adversarial,
        params.pair_dir,
        job.precision,
        execution_settings(snakemake).batch_size,
        job.device,
        progress=log,
        on_pair=report,
    )
    counts = {
        status: sum(p.status == status for p in pairs.values()) for status in ("computed", "reused")
    }
    print(f"{spec.name}: {counts['computed']} pairs computed, {counts['reused']} reused")
    tensors = {}
    for source, pair in pairs.items():
        tensors[f"pred/{source}"] = pair.pred
        tensors[f"index/{source}"] = pair.index
    record = make_record(
        kind="transfer",
        model=spec.name,
        weights_sha256=sha,
        data_sha256=data.data_sha256,
        attack=records[adversarial[params.sources[0]]]["attack"],
        precision=job.precision,
        numerics=job.numerics,
        sources={source: records[path]["weights_sha256"] for source, path in adversarial.items()},
    )
    save_tensors(snakemake.output[0], tensors, record)
