"""Snakemake adapter: the SAT matrix, transfer rates, |X_AB| and directional rates."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import warnings

import numpy as np

from satsim.compute.runtime import make_deterministic
from satsim.similarity.sat import sat_matrix
from satsim.workflow.artifacts import ImageSet, load_tensors
from satsim.workflow.atomic import write_csv
from satsim.workflow.provenance import (
    MUST_AGREE,
    check_agreement,
    check_transfer_sources,
    check_weights,
)
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic):
    params, inputs, outputs = snakemake.params, snakemake.input, snakemake.output
    data = ImageSet(inputs.eval)
    models = list(params.models)
    records = {inputs.eval: data.record}
    clean_pred, transfer_pred, adv_index = {}, {}, {}
    for model, clean_path, transfer_path in zip(models, inputs.clean, inputs.transfer, strict=True):
        clean, records[clean_path] = load_tensors(clean_path)
        transfer, records[transfer_path] = load_tensors(transfer_path)
        check_weights(transfer_path, records[transfer_path], records[clean_path]["weights_sha256"])
        clean_pred[model] = clean["pred"].numpy()
        for source in models:
            transfer_pred[(source, model)] = transfer[f"pred/{source}"].numpy()
            index = adv_index.setdefault(source, transfer[f"index/{source}"].numpy())
            if not np.array_equal(index, transfer[f"index/{source}"].numpy()):
                raise ValueError(
                    f"{transfer_path} was made from another adversarial set of {source!r} than "
                    f"{inputs.transfer[0]}; rerun the transfer jobs"
                )
    check_agreement(records, MUST_AGREE)
    weights_of = {
        m: records[c]["weights_sha256"] for m, c in zip(models, inputs.clean, strict=True)
    }
    for transfer_path in inputs.transfer:
        check_transfer_sources(transfer_path, records[transfer_path], weights_of)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sat_matrix(
            data.labels.numpy(),
            clean_pred,
            adv_index,
            transfer_pred,
            eps_s=params.eps_s,
            models=models,
        )
    for warning in caught:
        print(f"WARNING: {warning.message}")
    write_csv(outputs.sat, result.sat)
    write_csv(outputs.transfer_rate, result.transfer_rate)
    write_csv(outputs.n_common, result.n_common)
    write_csv(outputs.directional_rate, result.directional_rate)
    write_csv(outputs.pairs, result.pairs, index=False)
    print(result.sat.round(3).to_string())
