"""Snakemake adapter: the released matrix as this run's SAT matrix (strictly parsed, restricted
to the run's models), so the analyses and figures run on the authors' own numbers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.similarity.released import ReleasedMatrixError, read_released
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params, raw = snakemake.params, snakemake.input.raw
    released = read_released(raw, params.known, eps_s=params.eps_s)
    absent = [model for model in params.models if model not in released.index]
    if absent:
        raise ReleasedMatrixError(
            f"{raw} has no row for {', '.join(absent)}; leave them out with models.exclude"
        )
    sat = released.loc[params.models, params.models].rename_axis("model")
    write_csv(snakemake.output.sat, sat)
    print(f"released matrix: {len(released)} models, {len(sat)} used in this run")
