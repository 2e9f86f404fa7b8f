# Clean predictions per model: which eval images each model gets right (X_AB comes from these).


rule clean_predictions:
    input:
        eval=f"{RUN}/data/eval.safetensors",
        weights=f"{RUN}/models/{{model}}.safetensors",
        card=f"{RUN}/models/{{model}}.json",
    output:
        f"{RUN}/clean/{{model}}.safetensors",
    log:
        f"{RUN}/logs/clean_predictions/{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/clean_predictions/{{model}}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    params:
        seed=SEED,
        spec=model_spec,
        device=config["compute"]["device"],
        batch_size=config["compute"]["batch_size"],
    script:
        "../scripts/clean_predictions.py"
