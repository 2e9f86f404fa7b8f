"""Snakemake adapter: copy the authors' released SAT matrix (URL or local file) into the run."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.similarity.released import fetch_released
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    fetch_released(snakemake.params.source, snakemake.output.raw)
    print(f"{snakemake.params.source} -> {snakemake.output.raw}")
