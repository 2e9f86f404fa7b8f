"""Snakemake adapter: SAT of pairs sharing each component value vs pairs that don't."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too


from satsim.analysis.components import pair_table, shared_component_effects
from satsim.figures.fig4 import fig4_shared_component
from satsim.figures.style import save_figure
from satsim.models.component_labels import COMPONENT_COLUMNS
from satsim.similarity.estimated_cells import mark_measured, read_run_sat
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params, outputs = snakemake.params, snakemake.output
    sat, measured = read_run_sat(snakemake.input)
    pairs = pair_table(sat, params.components, COMPONENT_COLUMNS)
    effects = shared_component_effects(pairs, COMPONENT_COLUMNS)
    print(effects.to_string(index=False))
    write_csv(outputs.pairs, mark_measured(pairs, measured), index=False)
    write_csv(outputs.effects, effects, index=False)
    title = f"{params.title_prefix}: SAT by shared component ({len(sat)} models)"
    figure = fig4_shared_component(pairs, effects, COMPONENT_COLUMNS, title)
    save_figure(figure, outputs.pdf, outputs.png)
