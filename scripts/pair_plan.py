"""Snakemake adapter (checkpoint): the pairs an adaptive run's next round measures, each model's
predicted nearest partners not measured yet, from the estimate of what is measured so far."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import warnings

from satsim.compute.runtime import make_deterministic
from satsim.similarity.estimation import pair_plan
from satsim.similarity.sat import sat_matrix
from satsim.workflow.atomic import write_csv
from satsim.workflow.model_job import load_job_sat_inputs
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic):
    params = snakemake.params
    loaded = load_job_sat_inputs(snakemake)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        measured = sat_matrix(
            loaded.labels,
            loaded.clean_pred,
            loaded.adv_index,
            loaded.transfer_pred,
            eps_s=params.eps_s,
            models=loaded.models,
            partial=True,
        ).sat
    for warning in caught:
        print(f"WARNING: {warning.message}")
    plan = pair_plan(measured, params.landmarks, params.neighbours, params.seed, params.components)
    write_csv(snakemake.output.plan, plan, index=False)
    n_models = len(loaded.models)
    print(
        f"{len(plan)} new pairs to measure ({2 * len(plan)} transfer evaluations) for "
        f"{n_models} models; measured so far: "
        f"{int(measured.notna().to_numpy().sum() - n_models) // 2} of "
        f"{n_models * (n_models - 1) // 2} pairs"
    )
    print(plan.to_string(index=False))
