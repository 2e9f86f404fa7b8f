"""Snakemake adapter: the run's headline numbers into reports/summary.md."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.analysis.summary import run_summary
from satsim.workflow.atomic import atomic_path
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    inputs = snakemake.input

    def optional(key, **read):
        return pd.read_csv(inputs[key], **read) if key in inputs.keys() else None

    text = run_summary(
        snakemake.params.run_name,
        sat=pd.read_csv(inputs.sat, index_col=0),
        transfer_rate=optional("transfer_rate", index_col=0),
        clusters=pd.read_csv(inputs.clusters, index_col=0)["cluster"],
        importance=pd.read_csv(inputs.importance),
        clean_accuracy=optional("clean_accuracy"),
        ensemble_correlations=optional("ensembles"),
        distillation=optional("distillation"),
        intervals=optional("intervals"),
        cluster_ari=optional("cluster_ari"),
        images_needed=optional("images_needed"),
        measures=optional("measures", index_col=0),
        measured=optional("measured", index_col=0),
        estimate_error=optional("estimate_error"),
        replay=optional("replay"),
    )
    with atomic_path(snakemake.output[0]) as tmp:
        Path(tmp).write_text(text)
    print(text)
