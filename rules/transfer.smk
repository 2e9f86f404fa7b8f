# Transfer per target model: the target loads once and reads every source's adversarial set.
# Each (source, target) pair is also stored under transfer_pairs/ (not an output, so Snakemake
# keeps it when the job reruns): adding a model evaluates only the 2N+1 new pairs.


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
        spec=model_spec,
        sources=MODELS,
        pair_dir=lambda wildcards: f"{RUN}/transfer_pairs/{wildcards.model}",
        autocast=config["compute"]["autocast"],
    script:
        "../scripts/transfer.py"
