"""Snakemake adapter: pairwise and k-model ensembles from the clean predictions, against SAT."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.analysis.ensembles import (
    cluster_ensembles,
    gain_correlations,
    load_probabilities,
    pair_ensembles,
    partner_gains,
)
from satsim.figures.fig5 import fig5_ensembles
from satsim.figures.style import save_figure
from satsim.similarity.estimated_cells import mark_measured, read_run_sat
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params, inputs, outputs = snakemake.params, snakemake.input, snakemake.output
    sat, measured = read_run_sat(inputs)
    clusters = pd.read_csv(inputs.clusters, index_col=0)["cluster"]
    labels, probabilities = load_probabilities(
        inputs.eval, dict(zip(params.models, inputs.clean, strict=True))
    )
    pairs = pair_ensembles(
        probabilities, labels, sat, params.families, params.max_pairs, params.seed
    )
    correlations = gain_correlations(pairs, params.seed, params.bootstrap)
    partners = partner_gains(pairs)
    k_ensembles = cluster_ensembles(
        probabilities, labels, clusters, params.k, params.k_samples, params.seed
    )
    print(correlations.to_string(index=False))
    difference = (partners["gain_least_similar"] - partners["gain_most_similar"]).mean()
    print(
        "gain with the least vs the most similar partner: "
        f"{100 * difference:+.2f} percentage points on average over {len(partners)} models"
    )
    print(k_ensembles.groupby(["k", "drawn"])["gain_over_mean"].describe().to_string())
    write_csv(outputs.pairs, mark_measured(pairs, measured), index=False)
    write_csv(outputs.correlations, correlations, index=False)
    write_csv(outputs.partners, partners, index=False)
    write_csv(outputs.k_ensembles, k_ensembles, index=False)
    title = f"{params.title_prefix}: ensembles of {len(sat)} models"
    figure = fig5_ensembles(pairs, correlations, partners, k_ensembles, title)
    save_figure(figure, outputs.pdf, outputs.png)
