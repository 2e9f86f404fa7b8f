"""Snakemake adapter: one model's pretrained weights as safetensors + card, downloaded through
timm or imported from the user's local file (models.local_weights)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.compute.runtime import make_deterministic
from satsim.models.registry import ModelSpec
from satsim.models.weights import fetch_pretrained, import_local_weights, write_card
from satsim.workflow.provenance import library_versions
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic):
    spec = ModelSpec.from_description(snakemake.params.spec)
    local = snakemake.params.local_weights
    output = snakemake.output
    if local:
        source = import_local_weights(spec, local["path"], output.weights, local.get("sha256"))
    else:
        source = fetch_pretrained(spec, output.weights)
    sha = source.pop("weights_sha256")
    write_card(output.card, spec, sha, **source, versions=library_versions())
    print(f"{spec.name}: {spec.architecture} from {source['origin']}, sha256 {sha}")
