# Transfer per target model: the target loads once and reads every source's adversarial set.


rule transfer:
    input:
        eval=f"{RUN}/data/eval.safetensors",
        weights=f"{RUN}/models/{{model}}.safetensors",
        card=f"{RUN}/models/{{model}}.json",
        clean=f"{RUN}/clean/{{model}}.safetensors",
        adversarial=per_model(f"{RUN}/adversarial/{{model}}.safetensors"),
        cards=per_model(f"{RUN}/models/{{model}}.json"),
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
        seed=SEED,
        spec=model_spec,
        sources=MODELS,
        device=config["compute"]["device"],
        autocast=config["compute"]["autocast"],
        batch_size=config["compute"]["batch_size"],
    script:
        "../scripts/transfer.py"
