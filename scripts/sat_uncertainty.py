"""Snakemake adapter: SAT's bootstrap intervals, cluster stability and the images-needed curve
(fig7, fig8), from the same files the SAT matrix was computed from."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.compute.runtime import make_deterministic
from satsim.figures.fig7 import fig7_sat_intervals
from satsim.figures.fig8 import fig8_images_needed
from satsim.figures.style import save_figure
from satsim.similarity.bootstrap import pair_outcomes
from satsim.similarity.uncertainty import SPEARMAN_TARGET, sat_uncertainty
from satsim.workflow.atomic import write_csv
from satsim.workflow.model_job import load_job_sat_inputs
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic):
    params, inputs, outputs = snakemake.params, snakemake.input, snakemake.output
    loaded = load_job_sat_inputs(snakemake)
    partial = bool(getattr(params, "partial", False))
    outcomes = pair_outcomes(
        loaded.labels,
        loaded.clean_pred,
        loaded.adv_index,
        loaded.transfer_pred,
        loaded.models,
        partial,
    )
    clusters = pd.read_csv(inputs.clusters, index_col=0)["cluster"]
    sat = pd.read_csv(inputs.sat, index_col=0)
    # An adaptive run: resample the measured cells, complete the clusterings with the estimate.
    fill = sat.loc[loaded.models, loaded.models].to_numpy() if partial else None
    result = sat_uncertainty(
        outcomes,
        params.eps_s,
        clusters,
        params.n_clusters,
        params.seed,
        params.bootstrap,
        params.cluster_bootstrap,
        params.subset_sizes,
        params.subset_bootstrap,
        fill,
    )
    write_csv(outputs.intervals, result.intervals, index=False)
    write_csv(outputs.width, result.width)
    write_csv(outputs.cluster_ari, result.cluster_ari, index=False)
    write_csv(outputs.curve, result.curve, index=False)
    figure = fig7_sat_intervals(
        sat,
        result.width,
        result.intervals,
        clusters,
        f"{params.title_prefix}: SAT's 95 % intervals ({len(sat)} models"
        + ("; measured pairs only)" if partial else ")"),
    )
    save_figure(figure, outputs.fig7_pdf, outputs.fig7_png)
    figure = fig8_images_needed(
        result.curve, f"{params.title_prefix}: eval images a stable SAT matrix needs"
    )
    save_figure(figure, outputs.fig8_pdf, outputs.fig8_png)
    if partial:
        print(
            "adaptive run: intervals and the images-needed curve cover the "
            f"{len(result.intervals)} measured pairs only; the clusterings take the other "
            "cells from the estimate"
        )
    print(result.curve.round(3).to_string(index=False))
    print(
        f"median interval width {result.intervals['sat_ci_width'].median():.3f} (ln %); "
        f"cluster stability: mean ARI {result.cluster_ari['ari'].mean():.3f}; "
        f"Spearman >= {SPEARMAN_TARGET} from {result.images_for_spearman()} images"
    )
