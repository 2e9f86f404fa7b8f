"""Snakemake adapter: this run's SAT matrix against the authors' released one."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.figures.comparison import comparison_scatter
from satsim.figures.style import save_figure
from satsim.similarity.estimated_cells import mark_measured, read_run_sat
from satsim.similarity.released import compare_matrices, read_released
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params, inputs, outputs = snakemake.params, snakemake.input, snakemake.output
    ours, measured = read_run_sat(inputs)
    theirs = read_released(inputs.raw, params.known, eps_s=params.eps_s)
    summary, pairs = compare_matrices(ours, theirs, params.top_k, params.n_clusters, params.seed)
    for key, value in summary.items():
        print(f"{key}: {value}")
    write_csv(outputs.summary, pd.DataFrame([summary]), index=False)
    write_csv(outputs.pairs, mark_measured(pairs, measured), index=False)
    title = f"{params.title_prefix}: this run vs the released matrix"
    save_figure(comparison_scatter(pairs, summary, title), outputs.pdf, outputs.png)
