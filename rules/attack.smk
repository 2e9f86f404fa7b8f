# One PGD attack per model, on the eval images it classifies correctly.


rule attack:
    input:
        eval=f"{RUN}/data/eval.safetensors",
        weights=f"{RUN}/models/{{model}}.safetensors",
        card=f"{RUN}/models/{{model}}.json",
        clean=f"{RUN}/clean/{{model}}.safetensors",
    output:
        f"{RUN}/adversarial/{{model}}.safetensors",
    params:
        seed=SEED,
        spec=model_spec,
        attack=config["attack"],
        device=config["compute"]["device"],
    threads: 1
    log:
        f"{RUN}/logs/attack/{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/attack/{{model}}.tsv"
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/attack.py"
