"""Snakemake adapter: clean accuracy per model next to timm's published top-1 for its tag."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.analysis.accuracy_report import accuracy_table, flagged_lines
from satsim.compute.runtime import make_deterministic
from satsim.workflow.artifacts import read_provenance
from satsim.workflow.atomic import write_csv
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic):
    params, inputs = snakemake.params, snakemake.input
    n_images = read_provenance(inputs.eval)["n_images"]
    accuracies = {
        model: read_provenance(path)["accuracy"]
        for model, path in zip(params.models, inputs.clean, strict=True)
    }
    table = accuracy_table(accuracies, n_images, params.published)
    write_csv(snakemake.output.table, table, index=False)
    print(table.to_string(index=False))
    for line in flagged_lines(table):
        print(f"FLAG {line}")
