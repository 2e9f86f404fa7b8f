"""Snakemake adapter: cluster members, over-represented component values, stability."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.analysis.cluster_profiles import (
    cluster_members,
    cluster_stability,
    overrepresented_values,
)
from satsim.models.component_labels import COMPONENT_COLUMNS
from satsim.similarity.estimated_cells import read_run_sat
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params, outputs = snakemake.params, snakemake.output
    sat, _ = read_run_sat(snakemake.input)
    clusters = pd.read_csv(snakemake.input.clusters, index_col=0)["cluster"]
    members = cluster_members(sat, clusters)
    values = overrepresented_values(clusters, params.components, COMPONENT_COLUMNS)
    stability = cluster_stability(sat, params.n_clusters, params.seed, params.n_seeds)
    print(members.to_string(index=False))
    print(
        f"stability over {params.n_seeds} seeds: mean ARI vs the run's clustering "
        f"{stability['ari_vs_run_seed'].mean():.3f} (min {stability['ari_vs_run_seed'].min():.3f})"
    )
    write_csv(outputs.members, members, index=False)
    write_csv(outputs.values, values, index=False)
    write_csv(outputs.stability, stability, index=False)
