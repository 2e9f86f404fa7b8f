"""Snakemake adapter: replay the adaptive pair strategy on this run's complete SAT matrix for a
grid of (landmarks, neighbours): the fraction of pairs it measures and how far off its estimate
of the others is, against the soft-impute baseline (analysis/adaptive_replay.csv, fig10)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.figures.fig10 import fig10_adaptive_replay
from satsim.figures.style import save_figure
from satsim.similarity.adaptive import replay_table
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params, outputs = snakemake.params, snakemake.output
    sat = pd.read_csv(snakemake.input.sat, index_col=0)
    table = replay_table(
        sat,
        [tuple(point) for point in params.grid],
        params.rounds,
        params.n_clusters,
        params.families,
        params.seed,
    )
    write_csv(outputs.table, table, index=False)
    figure = fig10_adaptive_replay(
        table,
        f"{params.title_prefix}: the adaptive strategy replayed on {len(sat)} models",
    )
    save_figure(figure, outputs.fig10_pdf, outputs.fig10_png)
    print(table.round(3).to_string(index=False))
