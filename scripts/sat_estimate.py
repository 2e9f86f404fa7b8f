"""Snakemake adapter: an adaptive run's complete SAT matrix (measured cells as counted, the rest
estimated), which cells were measured, every cell's estimate with its uncertainty, and the
estimator's error measured on measured pairs it was not given."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.similarity.estimation import sat_estimate
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params, outputs = snakemake.params, snakemake.output
    measured = pd.read_csv(snakemake.input.sat, index_col=0)
    result = sat_estimate(
        measured,
        params.landmarks,
        params.neighbours,
        params.rounds,
        params.n_clusters,
        params.seed,
        params.components,
    )
    write_csv(outputs.sat, result.sat)
    write_csv(outputs.measured, result.measured)
    write_csv(outputs.estimate, result.estimate, index=False)
    write_csv(outputs.error, result.error, index=False)
    print(result.error.to_string(index=False))
