"""Snakemake adapter: execute a notebook against this run's results (executed .ipynb out)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.notebooks import execute_notebook
from satsim.scripting import script_session

with script_session(snakemake):
    params = snakemake.params
    execute_notebook(
        snakemake.input.notebook,
        snakemake.output[0],
        {"RUN_DIR": params.run_dir, "FIGURES_DIR": params.figures_dir},
        cwd=os.getcwd(),
    )
    print(f"executed {snakemake.input.notebook} -> {snakemake.output[0]}")
