"""Snakemake adapter: which components predict SAT (random forest + permutation importance)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import numpy as np
import pandas as pd

from satsim.analysis.components import component_importance, pair_table
from satsim.figures.fig3 import fig3_importance
from satsim.figures.style import save_figure
from satsim.models.component_labels import COMPONENT_COLUMNS
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params, outputs = snakemake.params, snakemake.output
    sat = pd.read_csv(snakemake.input.sat, index_col=0)
    pairs = pair_table(sat, params.components, COMPONENT_COLUMNS)
    result = component_importance(
        pairs, COMPONENT_COLUMNS, params.seed, params.folds, params.repeats
    )
    if np.isnan(result.r2).all():
        print(f"only {len(pairs)} model pairs: too few to cross-validate (at least 4 needed)")
        r2_mean = r2_std = np.nan
    else:
        r2_mean, r2_std = np.nanmean(result.r2), np.nanstd(result.r2)
        folds = ", ".join(f"{r:.3f}" for r in result.r2)
        print(
            f"random forest on {len(pairs)} pairs: cross-validated R² = {r2_mean:.3f} "
            f"± {r2_std:.3f} ({len(result.r2)} folds: {folds})"
        )
    print(result.table.to_string(index=False))
    table = result.table.assign(cv_r2_mean=r2_mean, cv_r2_std=r2_std)
    write_csv(outputs.table, table, index=False)
    title = f"{params.title_prefix}: what predicts SAT ({len(sat)} models)"
    save_figure(fig3_importance(result.table, result.r2, title), outputs.pdf, outputs.png)
