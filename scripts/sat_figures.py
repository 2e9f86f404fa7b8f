"""Snakemake adapter: fig1 (t-SNE by cluster) and fig2 (SAT heatmap by cluster)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.figures.fig1 import fig1_tsne
from satsim.figures.fig2 import fig2_heatmap
from satsim.figures.style import save_figure
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    inputs, outputs, prefix = snakemake.input, snakemake.output, snakemake.params.title_prefix
    sat = pd.read_csv(inputs.sat, index_col=0)
    clusters = pd.read_csv(inputs.clusters, index_col=0)["cluster"]
    embedding = pd.read_csv(inputs.embedding, index_col=0)
    n_models = len(sat)
    # An adaptive run marks its estimated cells.
    measured = pd.read_csv(inputs.measured, index_col=0) if "measured" in inputs.keys() else None
    save_figure(
        fig1_tsne(embedding, clusters, f"{prefix}: t-SNE of {n_models} models by SAT"),
        outputs.fig1_pdf,
        outputs.fig1_png,
    )
    save_figure(
        fig2_heatmap(sat, clusters, f"{prefix}: SAT matrix ({n_models} models)", measured),
        outputs.fig2_pdf,
        outputs.fig2_png,
    )
