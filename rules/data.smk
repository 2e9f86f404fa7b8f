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

    rule prepare_imagenet:
        output:
            eval=f"{RUN}/data/eval.safetensors",
        log:
            f"{RUN}/logs/prepare_imagenet.log",
        conda:
            "../envs/torch.yaml"
        params:
            seed=SEED,
            imagenet_val=config["data"].get("imagenet_val"),
            canonical_size=config["data"]["canonical_size"],
            eval_size=config["data"]["eval_size"],
        script:
            "../scripts/prepare_imagenet.py"
