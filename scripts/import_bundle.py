"""Snakemake adapter: import a bundle (bundle.import) into this run: every file checked, the
adversarial sets rebuilt from this clone's eval images, pretrained weights fetched by tag."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.bundle.importing import import_bundle
from satsim.compute.runtime import make_deterministic
from satsim.models.registry import ModelSpec
from satsim.models.weights import fetch_pretrained, import_local_weights
from satsim.workflow.atomic import write_json
from satsim.workflow.scripting import script_session


def fetch_weights(model, weights, path):
    """The weights the bundle's card names: timm's by tag, or the user's own file."""
    spec = ModelSpec.from_description(snakemake.params.specs[model])
    local = snakemake.params.local_weights.get(model)
    if weights["source"] == "file" or local:
        source = local["path"] if local else weights["file"]
        return import_local_weights(spec, source, path, weights.get("file_sha256"))[
            "weights_sha256"
        ]
    return fetch_pretrained(spec, path)["weights_sha256"]


with script_session(snakemake, seed_torch=make_deterministic) as log:
    params = snakemake.params
    record = import_bundle(
        bundle=Path(params.bundle),
        run_dir=Path(params.run_dir),
        eval_path=Path(snakemake.input.eval),
        config=params.config,
        identities=params.identities,
        fetch_weights=fetch_weights,
        progress=log,
    )
    write_json(snakemake.output[0], record)
    print(
        f"imported {len(record['models'])} models ({record['files']} files) from "
        f"{params.bundle}: run snakemake without bundle=... to add models"
    )
