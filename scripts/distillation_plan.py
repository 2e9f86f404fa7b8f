"""Snakemake adapter: the teachers of each distillation student, spread over SAT to it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import pandas as pd

from satsim.analysis.distillation import pick_teachers
from satsim.similarity.estimated_cells import mark_measured, read_run_sat
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake):
    params = snakemake.params
    sat, measured = read_run_sat(snakemake.input)
    named = [] if isinstance(params.teachers, int) else list(params.teachers)
    count = params.teachers if isinstance(params.teachers, int) else len(named)
    plan = pd.concat(
        [pick_teachers(sat, student, count, named) for student in params.students],
        ignore_index=True,
    )
    print(plan.to_string(index=False))
    marked = mark_measured(plan, measured, columns=("student", "teacher"))
    write_csv(snakemake.output.plan, marked, index=False)
