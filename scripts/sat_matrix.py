"""Snakemake adapter: the SAT matrix, transfer rates, |X_AB| and directional rates."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import warnings

from satsim.compute.runtime import make_deterministic
from satsim.similarity.sat import sat_matrix
from satsim.workflow.atomic import write_csv
from satsim.workflow.model_job import load_job_sat_inputs
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic):
    params, inputs, outputs = snakemake.params, snakemake.input, snakemake.output
    loaded = load_job_sat_inputs(snakemake)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sat_matrix(
            loaded.labels,
            loaded.clean_pred,
            loaded.adv_index,
            loaded.transfer_pred,
            eps_s=params.eps_s,
            models=loaded.models,
            partial=bool(getattr(params, "partial", False)),
        )
    for warning in caught:
        print(f"WARNING: {warning.message}")
    write_csv(outputs.sat, result.sat)
    write_csv(outputs.transfer_rate, result.transfer_rate)
    write_csv(outputs.n_common, result.n_common)
    write_csv(outputs.directional_rate, result.directional_rate)
    write_csv(outputs.pairs, result.pairs, index=False)
    print(result.sat.round(3).to_string())
