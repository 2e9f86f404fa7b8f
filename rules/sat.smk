# The SAT matrix from clean predictions and transfer predictions (sat.source: computed; see
# released.smk for the authors' matrix).


if config["sat"]["source"] == "computed":

    rule sat_matrix:
        input:
            eval=f"{RUN}/data/eval.safetensors",
            clean=per_model(f"{RUN}/clean/{{model}}.safetensors"),
            transfer=per_model(f"{RUN}/transfer/{{model}}.safetensors"),
        output:
            sat=report(
                f"{RUN}/sat/sat.csv",
                caption="../report/sat.rst",
                category="1. SAT matrix",
            ),
            transfer_rate=f"{RUN}/sat/transfer_rate.csv",
            n_common=f"{RUN}/sat/n_common.csv",
            directional_rate=f"{RUN}/sat/directional_rate.csv",
            pairs=report(
                f"{RUN}/sat/pairs.csv",
                caption="../report/pairs.rst",
                category="1. SAT matrix",
            ),
        log:
            f"{RUN}/logs/sat_matrix.log",
        conda:
            "../envs/torch.yaml"
        params:
            models=MODELS,
            eps_s=config["sat"]["eps_s"],
        script:
            "../scripts/sat_matrix.py"
