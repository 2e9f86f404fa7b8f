# One PGD attack per model, on the eval images it classifies correctly.


rule attack:
    input:
        eval=f"{RUN}/data/eval.safetensors",
        weights=f"{RUN}/models/{{model}}.safetensors",
        card=f"{RUN}/models/{{model}}.json",
        clean=f"{RUN}/clean/{{model}}.safetensors",
    output:
        f"{RUN}/adversarial/{{model}}.safetensors",
    log:
        f"{RUN}/logs/attack/{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/attack/{{model}}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=GPUS_PER_JOB,
    params:
        seed=SEED,
        spec=model_spec,
        attack=ATTACK_SETTINGS,
        autocast=config["compute"]["autocast"],
    script:
        "../scripts/attack.py"
