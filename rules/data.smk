# Evaluation (and, for the demo, training) images in the canonical uint8 pixel space.

if config["data"]["source"] == "digits":

    rule prepare_digits:
        output:
            eval=f"{RUN}/data/eval.safetensors",
            train=f"{RUN}/data/train.safetensors",
        log:
            f"{RUN}/logs/prepare_digits.log",
        conda:
            "../envs/torch.yaml"
        params:
            seed=SEED,
            canonical_size=config["data"]["canonical_size"],
            eval_size=config["data"]["eval_size"],
        script:
            "../scripts/prepare_digits.py"

else:

    # Decodes the subset once into the canonical space; every model job reads this file.
    rule prepare_imagenet:
        input:
            subset=workflow_path(config["data"]["imagenet_subset"]),
        output:
            eval=f"{RUN}/data/eval.safetensors",
        log:
            f"{RUN}/logs/prepare_imagenet.log",
        benchmark:
            f"{RUN}/benchmarks/prepare_imagenet.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 8
        params:
            imagenet_val=config["data"]["imagenet_val"],
            imagenet_labels=config["data"].get("imagenet_labels"),
            canonical_size=config["data"]["canonical_size"],
            eval_size=config["data"]["eval_size"],
        script:
            "../scripts/prepare_imagenet.py"

    # The training subset for distillation (fig6): decoded once, like the evaluation set.
    rule prepare_imagenet_train:
        output:
            train=f"{RUN}/data/train_subset.safetensors",
        log:
            f"{RUN}/logs/prepare_imagenet_train.log",
        benchmark:
            f"{RUN}/benchmarks/prepare_imagenet_train.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 8
        params:
            seed=SEED,
            root=config["data"].get("imagenet_train"),
            n_classes=DISTILLATION.get("train_classes", 100),
            per_class=DISTILLATION.get("train_images_per_class", 100),
            canonical_size=config["data"]["canonical_size"],
        script:
            "../scripts/prepare_imagenet_train.py"
