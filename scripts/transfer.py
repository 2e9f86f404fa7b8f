"""Snakemake adapter: one target model classifies every source's adversarial set."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.artifacts import load_tensors, read_provenance, save_tensors
from satsim.atomic import read_json
from satsim.model_job import load_model_job
from satsim.predict import predict_classes
from satsim.provenance import MUST_AGREE, check_agreement, check_weights, make_record
from satsim.scripting import script_session

with script_session(snakemake) as log:
    params, inputs = snakemake.params, snakemake.input
    job = load_model_job(snakemake)
    device, data, spec, model, sha = (job.device, job.data, job.spec, job.model, job.weights_sha256)
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

    tensors = {}
    for source, path in adversarial.items():
        adv, _ = load_tensors(path)
        tensors[f"pred/{source}"] = predict_classes(
            model, adv["images"], params.batch_size, device, progress=log, desc=source
        )
        tensors[f"index/{source}"] = adv["index"]
        fooled = (tensors[f"pred/{source}"] != data.labels[adv["index"]]).float().mean()
        print(f"{source} -> {spec.name}: {100 * float(fooled):.2f} % fooled")
    attack = records[adversarial[params.sources[0]]]["attack"]
    record = make_record(
        kind="transfer",
        model=spec.name,
        weights_sha256=sha,
        data_sha256=data.data_sha256,
        attack=attack,
        precision=job.precision,
        sources={source: records[path]["weights_sha256"] for source, path in adversarial.items()},
    )
    save_tensors(snakemake.output[0], tensors, record)
