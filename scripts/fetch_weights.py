"""Snakemake adapter: download one model's pretrained timm weights as safetensors + card."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.artifacts import ImageSet
from satsim.provenance import library_versions
from satsim.registry import ModelSpec
from satsim.scripting import script_session
from satsim.weights import fetch_pretrained, write_card

with script_session(snakemake):
    spec = ModelSpec.from_description(snakemake.params.spec)
    num_classes = ImageSet(snakemake.input.eval).num_classes
    sha = fetch_pretrained(spec, num_classes, snakemake.output.weights)
    write_card(
        snakemake.output.card, spec, sha, source="timm pretrained", versions=library_versions()
    )
