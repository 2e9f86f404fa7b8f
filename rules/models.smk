# Model weights: trained by the workflow (demo zoo) or pretrained timm weights (paper run).

if config["models"]["weights"] == "train":

    rule train_model:
        input:
            train=f"{RUN}/data/train.safetensors",
            eval=f"{RUN}/data/eval.safetensors",
            factory=factory_file,
        output:
            weights=f"{RUN}/models/{{model}}.safetensors",
            card=f"{RUN}/models/{{model}}.json",
        log:
            f"{RUN}/logs/train_model/{{model}}.log",
        benchmark:
            f"{RUN}/benchmarks/train_model/{{model}}.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 1
        resources:
            gpu=GPUS_PER_JOB,
        params:
            seed=SEED,
            spec=model_spec,
            training=config.get("training"),
        script:
            "../scripts/train_model.py"

else:

    # Runs where the network is (e.g. a cluster's login node); GPU jobs read only local files.
    # A model listed in models.local_weights is imported from the user's file instead.
    rule fetch_weights:
        input:
            local=lambda wildcards: LOCAL_WEIGHTS.get(wildcards.model, {}).get(
                "path", []
            ),
            factory=factory_file,
        output:
            weights=f"{RUN}/models/{{model}}.safetensors",
            card=f"{RUN}/models/{{model}}.json",
        log:
            f"{RUN}/logs/fetch_weights/{{model}}.log",
        localrule: True
        conda:
            "../envs/torch.yaml"
        params:
            spec=model_spec,
            local_weights=lambda wildcards: LOCAL_WEIGHTS.get(wildcards.model),
        script:
            "../scripts/fetch_weights.py"
