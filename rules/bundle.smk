# A finished run that travels: 'snakemake bundle' exports it; --config bundle='{import: PATH}'
# imports one into a fresh clone, so that adding a model there costs its own jobs and 2N + 1
# pairs (see docs/paper-run.md and docs/outputs.md).

if COMPUTED:

    rule bundle:
        input:
            finished=run_targets(),
            eval=f"{RUN}/data/eval.safetensors",
        output:
            bundle=directory(f"{RUN}/bundle"),
        log:
            f"{RUN}/logs/bundle.log",
        localrule: True
        conda:
            "../envs/torch.yaml"
        threads: 8  # models' perturbations encode in parallel (about 3 GB each at paper scale)
        params:
            run_dir=lambda wildcards, output: str(Path(output[0]).parent),
            figures=[path for path in run_targets() if path.startswith(f"{FIGURES}/")],
            config=config,
            identities={model: REGISTRY[model].identity() for model in MODELS},
            local_weights=LOCAL_WEIGHTS,
        script:
            "../scripts/export_bundle.py"


if BUNDLE_IMPORT:

    # Fetches pretrained weights by tag (the network): a local rule, like fetch_weights.
    rule import_bundle:
        input:
            eval=f"{RUN}/data/eval.safetensors",
        output:
            f"{RUN}/{IMPORT_RECORD}",
        log:
            f"{RUN}/logs/import_bundle.log",
        localrule: True
        conda:
            "../envs/torch.yaml"
        params:
            bundle=BUNDLE_IMPORT,
            run_dir=lambda wildcards, output: str(Path(output[0]).parent),
            config=config,
            identities={model: REGISTRY[model].identity() for model in MODELS},
            specs={model: REGISTRY[model].describe() for model in MODELS},
            local_weights=LOCAL_WEIGHTS,
        script:
            "../scripts/import_bundle.py"

    # Snakemake's own records of the imported files (params, code, input set), as if its jobs had
    # made them here: without them, a run that adds a model and asks for one target (sat.csv)
    # would see nothing to do. Touch mode records them and runs no job.
    onsuccess:
        record_imported_run()
