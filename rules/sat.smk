# The SAT matrix from clean predictions and transfer predictions (sat.source: computed; see
# released.smk for the authors' matrix).


if config["sat"]["source"] == "computed":

    rule sat_matrix:
        input:
            eval=f"{RUN}/data/eval.safetensors",
            clean=per_model(f"{RUN}/clean/{{model}}.safetensors"),
            transfer=per_model(f"{RUN}/transfer/{{model}}.safetensors"),
        output:
            # An adaptive run's counted matrix has its unmeasured cells empty: sat_estimate
            # completes it into sat.csv.
            sat=(
                SAT_COUNTED
                if ADAPTIVE
                else report(
                    SAT_COUNTED,
                    caption="../report/sat.rst",
                    category=CATEGORY["SAT matrix"],
                )
            ),
            transfer_rate=f"{RUN}/sat/transfer_rate.csv",
            n_common=f"{RUN}/sat/n_common.csv",
            directional_rate=f"{RUN}/sat/directional_rate.csv",
            pairs=report(
                f"{RUN}/sat/pairs.csv",
                caption="../report/pairs.rst",
                category=CATEGORY["SAT matrix"],
            ),
        log:
            f"{RUN}/logs/sat_matrix.log",
        conda:
            "../envs/torch.yaml"
        params:
            **({"partial": True} if ADAPTIVE else {}),
            models=MODELS,
            eps_s=config["sat"]["eps_s"],
            # Only in adaptive runs, so that params of strategy all stay as they were.
        script:
            "../scripts/sat_matrix.py"


if ADAPTIVE:

    rule sat_estimate:
        input:
            sat=SAT_COUNTED,
        output:
            sat=report(
                f"{RUN}/sat/sat.csv",
                caption="../report/sat.rst",
                category=CATEGORY["SAT matrix"],
            ),
            measured=f"{RUN}/sat/measured.csv",
            estimate=f"{RUN}/sat/estimate.csv",
            error=report(
                f"{RUN}/sat/estimate_error.csv",
                caption="../report/estimate_error.rst",
                category=CATEGORY["SAT matrix"],
            ),
        log:
            f"{RUN}/logs/sat_estimate.log",
        conda:
            "../envs/analysis.yaml"
        params:
            landmarks=LANDMARKS,
            neighbours=PAIRS["neighbours"],
            rounds=ROUNDS,
            components=COMPONENTS,
            n_clusters=config["analysis"]["n_clusters"],
            seed=SEED,
        script:
            "../scripts/sat_estimate.py"


if REPLAY:

    # What the adaptive strategy would have measured and estimated on this complete matrix, for
    # a grid of (landmarks, neighbours), against the truth: how to choose them before a zoo.
    rule adaptive_replay:
        input:
            sat=f"{RUN}/sat/sat.csv",
        output:
            table=report(
                f"{RUN}/analysis/adaptive_replay.csv",
                caption="../report/adaptive_replay.rst",
                category=CATEGORY["Beyond the paper"],
            ),
            fig10_pdf=f"{FIGURES}/fig10.pdf",
            fig10_png=report(
                f"{FIGURES}/fig10.png",
                caption="../report/fig10.rst",
                category=CATEGORY["Beyond the paper"],
            ),
        log:
            f"{RUN}/logs/adaptive_replay.log",
        conda:
            "../envs/analysis.yaml"
        params:
            grid=config["sat"]["replay"]["grid"],
            rounds=PAIRS["rounds"],
            families=FAMILIES,
            n_clusters=config["analysis"]["n_clusters"],
            seed=SEED,
            title_prefix=TITLE_PREFIX,
        script:
            "../scripts/adaptive_replay.py"
