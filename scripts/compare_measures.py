"""Snakemake adapter: SAT next to the other similarity measures — their rank correlations over
the model pairs, what the shared components explain of each, and each one's relation to
ensemble gain (fig9)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.figures.fig9 import fig9_measures
from satsim.figures.style import save_figure
from satsim.models.component_labels import COMPONENT_COLUMNS
from satsim.similarity.comparison import measure_summary, pair_values, rank_correlations
from satsim.similarity.estimated_cells import mark_measured, read_run_sat
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params, inputs, outputs = snakemake.params, snakemake.input, snakemake.output
    sat, measured = read_run_sat(inputs)
    measures = {"sat": sat}
    measures |= {name: pd.read_csv(inputs[name], index_col=0) for name in params.measures}
    pairs = pair_values(measures)
    correlations = rank_correlations(pairs, list(measures))
    summary = measure_summary(
        measures,
        params.components,
        COMPONENT_COLUMNS,
        pd.read_csv(inputs.ensemble_pairs),
        params.seed,
        params.folds,
        params.repeats,
        params.bootstrap,
    )
    summary.insert(0, "spearman_with_sat", correlations["sat"])
    write_csv(outputs.pairs, mark_measured(pairs, measured), index=False)
    write_csv(outputs.correlations, correlations)
    write_csv(outputs.summary, summary)
    figure = fig9_measures(
        correlations, summary, f"{params.title_prefix}: SAT and other similarity measures"
    )
    save_figure(figure, outputs.fig9_pdf, outputs.fig9_png)
    print(summary.round(3).to_string())
