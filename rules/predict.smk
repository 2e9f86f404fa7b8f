# Clean predictions per model: which eval images each model gets right (X_AB comes from these),
# and the penultimate features of the same forward pass (for CKA, satsim.similarity.measures).


rule clean_predictions:
    input:
        eval=f"{RUN}/data/eval.safetensors",
        weights=f"{RUN}/models/{{model}}.safetensors",
        card=f"{RUN}/models/{{model}}.json",
    output:
        clean=f"{RUN}/clean/{{model}}.safetensors",
        features=f"{RUN}/features/{{model}}.safetensors",
    log:
        f"{RUN}/logs/clean_predictions/{{model}}.log",
    benchmark:
        f"{RUN}/benchmarks/clean_predictions/{{model}}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=GPUS_PER_JOB,
    params:
        spec=model_spec,
        autocast=config["compute"]["autocast"],
    script:
        "../scripts/clean_predictions.py"


# The first check of a run: each model's clean accuracy next to timm's top-1 for its tag.
rule accuracy_report:
    input:
        eval=f"{RUN}/data/eval.safetensors",
        clean=per_model(f"{RUN}/clean/{{model}}.safetensors"),
    output:
        table=report(
            f"{RUN}/reports/clean_accuracy.csv",
            caption="../report/clean_accuracy.rst",
            category=CATEGORY["Checks"],
        ),
    log:
        f"{RUN}/logs/accuracy_report.log",
    conda:
        "../envs/torch.yaml"
    params:
        models=MODELS,
        published={
            name: {"architecture": spec.architecture, "top1": spec.top1}
            for name, spec in REGISTRY.items()
        },
    script:
        "../scripts/accuracy_report.py"
