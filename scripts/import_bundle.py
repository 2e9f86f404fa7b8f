"""Snakemake adapter: import a bundle (bundle.import) into this run: every file checked, the
adversarial sets rebuilt from this clone's eval images, pretrained weights fetched by tag."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.bundle.importing import import_bundle, weights_fetcher
from satsim.compute.runtime import make_deterministic
from satsim.workflow.atomic import write_json
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic) as log:
    params = snakemake.params
    record = import_bundle(
        bundle=Path(params.bundle),
        run_dir=Path(params.run_dir),
        eval_path=Path(snakemake.input.eval),
        config=params.config,
        identities=params.identities,
        fetch_weights=weights_fetcher(params.specs, params.local_weights),
        progress=log,
    )
    write_json(snakemake.output[0], record)
    print(
        f"imported {len(record['models'])} models ({record['files']} files) from "
        f"{params.bundle}: run snakemake without bundle=... to add models"
    )
