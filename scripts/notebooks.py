"""Snakemake adapter: execute a notebook against this run's results (executed .ipynb out)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.workflow.notebooks import execute_notebook
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    inputs = snakemake.input
    run_dir = Path(inputs.sat).parent.parent  # results/<run>/sat/sat.csv
    figures_dir = Path(inputs.figures[0]).parent
    # The workflow's notebook (the rule tracks its content as a param, not its path).
    notebook = Path(snakemake.scriptdir).parent / "notebooks" / f"{snakemake.wildcards.notebook}.py"
    execute_notebook(
        notebook,
        snakemake.output[0],
        {"RUN_DIR": str(run_dir), "FIGURES_DIR": str(figures_dir)},
        cwd=os.getcwd(),
    )
    print(f"executed {notebook} -> {snakemake.output[0]}")
