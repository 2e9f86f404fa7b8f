"""Snakemake adapter: pairwise and k-model ensembles from the clean predictions, against SAT."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd
from safetensors import safe_open

from satsim.analysis.ensembles import (
    cluster_ensembles,
    pair_ensembles,
    partner_gains,
    softmax,
    spearman_with_ci,
)
from satsim.figures.fig5 import fig5_ensembles
from satsim.figures.style import save_figure
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session


def tensor(path, name):
    with safe_open(path, framework="numpy") as handle:  # no torch needed
        return handle.get_tensor(name)


with script_session(snakemake):
    params, inputs, outputs = snakemake.params, snakemake.input, snakemake.output
    sat = pd.read_csv(inputs.sat, index_col=0)
    clusters = pd.read_csv(inputs.clusters, index_col=0)["cluster"]
    labels = tensor(inputs.eval, "labels")
    probabilities = {
        model: softmax(tensor(path, "logits").astype("float64"))
        for model, path in zip(params.models, inputs.clean, strict=True)
    }
    pairs = pair_ensembles(
        probabilities, labels, sat, params.families, params.max_pairs, params.seed
    )
    rows = []
    for subset, mask in (
        ("all pairs", pairs["same_family"] | ~pairs["same_family"]),
        ("same base architecture", pairs["same_family"]),
        ("different base architecture", ~pairs["same_family"]),
    ):
        for column in ("gain_over_mean", "gain_over_best"):
            stats = spearman_with_ci(pairs[mask], column, params.seed, params.bootstrap)
            rows.append({"pairs": subset, "gain": column, **stats})
    correlations = pd.DataFrame(rows)
    partners = partner_gains(pairs)
    k_ensembles = cluster_ensembles(
        probabilities, labels, clusters, params.k, params.k_samples, params.seed
    )
    print(correlations.to_string(index=False))
    print(
        "gain with the least vs the most similar partner (points): "
        f"{(partners['gain_least_similar'] - partners['gain_most_similar']).mean():+.2f} on "
        f"average over {len(partners)} models"
    )
    print(k_ensembles.groupby(["k", "drawn"])["gain_over_mean"].describe().to_string())
    write_csv(outputs.pairs, pairs, index=False)
    write_csv(outputs.correlations, correlations, index=False)
    write_csv(outputs.partners, partners, index=False)
    write_csv(outputs.k_ensembles, k_ensembles, index=False)
    title = f"{params.title_prefix}: ensembles of {len(sat)} models"
    figure = fig5_ensembles(pairs, correlations, partners, k_ensembles, title)
    save_figure(figure, outputs.pdf, outputs.png)
