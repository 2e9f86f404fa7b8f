# Transfer per target model: the target loads once and reads the adversarial sets of its sources
# (every model, or in an adaptive run the landmarks and its picked partners; see common.smk).
# Each (source, target) pair is also stored under transfer_pairs/ (not an output, so Snakemake
# keeps it when the job reruns): adding a model evaluates only its new pairs.


rule transfer:
    input:
        eval=f"{RUN}/data/eval.safetensors",
        weights=f"{RUN}/models/{{model}}.safetensors",
        card=f"{RUN}/models/{{model}}.json",
        clean=f"{RUN}/clean/{{model}}.safetensors",
        adversarial=transfer_inputs(None, "adversarial"),
        cards=transfer_inputs(None, "models"),
    output:
        f"{RUN}/transfer/{{model}}.safetensors",
    log:
        f"{RUN}/logs/transfer/{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/transfer/{{model}}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=GPUS_PER_JOB,
    params:
        spec=model_spec,
        sources=transfer_sources(None),
        pair_dir=lambda wildcards: f"{RUN}/transfer_pairs/{wildcards.model}",
        autocast=config["compute"]["autocast"],
    script:
        "../scripts/transfer.py"


if ADAPTIVE:

    # The rounds before the last (round 0: the landmark pairs); the same job on fewer sources.
    use rule transfer as transfer_round with:
        input:
            eval=f"{RUN}/data/eval.safetensors",
            weights=f"{RUN}/models/{{model}}.safetensors",
            card=f"{RUN}/models/{{model}}.json",
            clean=f"{RUN}/clean/{{model}}.safetensors",
            adversarial=transfer_inputs("round", "adversarial"),
            cards=transfer_inputs("round", "models"),
        output:
            f"{RUN}/transfer/round{{round}}/{{model}}.safetensors",
        log:
            f"{RUN}/logs/transfer/round{{round}}/{{model}}.log",
        benchmark:
            f"{RUN}/benchmarks/transfer/round{{round}}/{{model}}.tsv"
        params:
            spec=model_spec,
            sources=transfer_sources("round"),
            pair_dir=lambda wildcards: f"{RUN}/transfer_pairs/{wildcards.model}",
            autocast=config["compute"]["autocast"],

    # Per round, each model's predicted nearest partners not yet measured, from the estimate of
    # what the rounds before measured.
    checkpoint pair_plan:
        input:
            eval=f"{RUN}/data/eval.safetensors",
            clean=per_model(f"{RUN}/clean/{{model}}.safetensors"),
            transfer=lambda wildcards: [
                transfer_file(int(wildcards.round) - 1, model) for model in MODELS
            ],
        output:
            plan=f"{RUN}/sat/rounds/plan{{round}}.csv",
        log:
            f"{RUN}/logs/pair_plan/round{{round}}.log",
        conda:
            "../envs/torch.yaml"
        params:
            models=MODELS,
            partial=True,
            landmarks=LANDMARKS,
            neighbours=PAIRS["neighbours"],
            components=COMPONENTS,
            eps_s=config["sat"]["eps_s"],
            seed=SEED,
        script:
            "../scripts/pair_plan.py"
