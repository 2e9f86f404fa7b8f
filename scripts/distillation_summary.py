"""Snakemake adapter: distilled students against teacher-student SAT (table and fig6)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.analysis.distillation import distillation_runs, summarise
from satsim.figures.fig6 import fig6_distillation
from satsim.figures.style import save_figure
from satsim.workflow.atomic import read_json, write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    inputs, outputs = snakemake.input, snakemake.output
    plan = pd.read_csv(inputs.plan)
    runs = distillation_runs(plan, [read_json(path) for path in inputs.results])
    table = summarise(runs)
    print(table.to_string(index=False))
    write_csv(outputs.runs, runs, index=False)
    write_csv(outputs.table, table, index=False)
    title = f"{snakemake.params.title_prefix}: distillation against teacher–student SAT"
    save_figure(fig6_distillation(table, runs, title), outputs.pdf, outputs.png)
