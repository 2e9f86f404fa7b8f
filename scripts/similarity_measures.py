"""Snakemake adapter: CKA, prediction agreement, error consistency and gradient-sign agreement
of every model pair, from the stored per-model files (no attack is rerun)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.compute.runtime import make_deterministic
from satsim.similarity.measures import similarity_matrices
from satsim.similarity.representations import load_representations
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic):
    params, inputs = snakemake.params, snakemake.input
    loaded = load_representations(
        inputs.eval,
        clean=dict(zip(params.models, inputs.clean, strict=True)),
        features=dict(zip(params.models, inputs.features, strict=True)),
        gradients=dict(zip(params.models, inputs.gradients, strict=True)),
    )
    matrices = similarity_matrices(
        loaded.labels, loaded.clean_pred, loaded.features, loaded.signs, loaded.n_positions
    )
    for name, matrix in matrices.items():
        write_csv(snakemake.output[name], matrix)
        print(f"{name}:\n{matrix.round(3).to_string()}")
