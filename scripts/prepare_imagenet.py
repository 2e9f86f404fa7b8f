"""Snakemake adapter: the ImageNet evaluation subset (paper run)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.scripting import script_session

with script_session(snakemake):
    raise NotImplementedError(
        "building the ImageNet evaluation set from data.imagenet_val is not implemented yet "
        "(Step 2). Run the embedded demo instead: "
        "snakemake --cores all --configfile configs/demo.yaml"
    )
