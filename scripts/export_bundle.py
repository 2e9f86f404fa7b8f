"""Snakemake adapter: a finished computed run as a bundle (results/<run>/bundle/) that another
clone imports with --config bundle='{import: PATH}'."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.bundle.export import bundle_sizes, export_run
from satsim.workflow.scripting import script_session

with script_session(snakemake) as log:
    params = snakemake.params
    manifest = export_run(
        run_dir=Path(params.run_dir),
        extra_files=[Path(path) for path in params.figures],
        bundle_dir=Path(snakemake.output.bundle),
        eval_path=Path(snakemake.input.eval),
        config=params.config,
        identities=params.identities,
        local_weights=params.local_weights,
        threads=snakemake.threads,
        progress=log,
    )
    sizes = bundle_sizes(manifest)
    print(
        f"bundle: {len(manifest['files'])} files, {sizes['total']:,} bytes; adversarial sets "
        f"{sizes['adversarial_as_images']:,} bytes as images, {sizes['perturbations']:,} as "
        "perturbations"
    )
