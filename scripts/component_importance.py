"""Snakemake adapter: which components predict SAT (random forest + permutation importance)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too


from satsim.analysis.components import component_importance, pair_table
from satsim.figures.fig3 import fig3_importance
from satsim.figures.style import save_figure
from satsim.models.component_labels import COMPONENT_COLUMNS
from satsim.similarity.estimated_cells import read_run_sat
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params, outputs = snakemake.params, snakemake.output
    sat, _ = read_run_sat(snakemake.input)
    pairs = pair_table(sat, params.components, COMPONENT_COLUMNS)
    result = component_importance(
        pairs, COMPONENT_COLUMNS, params.seed, params.folds, params.repeats
    )
    print(result.describe(len(pairs)))
    print(result.table.to_string(index=False))
    write_csv(outputs.table, result.table_with_r2(), index=False)
    title = f"{params.title_prefix}: what predicts SAT ({len(sat)} models)"
    save_figure(fig3_importance(result.table, result.r2, title), outputs.pdf, outputs.png)
