# Beyond the paper, from the same run (sat.source: computed): SAT's uncertainty over the eval
# images (fig7) and how many images it needs (fig8); other similarity measures of the same
# models and how SAT compares with them (fig9). No attack is rerun.

SIMILARITY = config["similarity"]
MEASURES = ["cka", "agreement", "error_consistency", "gradient_sign"]


if config["sat"]["source"] == "computed":

    rule input_gradients:
        input:
            eval=f"{RUN}/data/eval.safetensors",
            weights=f"{RUN}/models/{{model}}.safetensors",
            card=f"{RUN}/models/{{model}}.json",
        output:
            f"{RUN}/gradients/{{model}}.safetensors",
        log:
            f"{RUN}/logs/input_gradients/{{model}}.log",
        benchmark:
            f"{RUN}/benchmarks/input_gradients/{{model}}.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 1
        resources:
            gpu=GPUS_PER_JOB,
        params:
            spec=model_spec,
            autocast=config["compute"]["autocast"],
            n_images=SIMILARITY["gradient_images"],
        script:
            "../scripts/input_gradients.py"

    rule sat_uncertainty:
        input:
            eval=f"{RUN}/data/eval.safetensors",
            clean=per_model(f"{RUN}/clean/{{model}}.safetensors"),
            transfer=per_model(f"{RUN}/transfer/{{model}}.safetensors"),
            sat=f"{RUN}/sat/sat.csv",
            clusters=f"{RUN}/analysis/clusters.csv",
        output:
            intervals=report(
                f"{RUN}/sat/intervals.csv",
                caption="../report/sat_intervals.rst",
                category=CATEGORY["Beyond the paper"],
            ),
            width=f"{RUN}/sat/ci_width.csv",
            cluster_ari=f"{RUN}/analysis/cluster_bootstrap.csv",
            curve=report(
                f"{RUN}/analysis/images_needed.csv",
                caption="../report/images_needed.rst",
                category=CATEGORY["Beyond the paper"],
            ),
            fig7_pdf=f"{FIGURES}/fig7.pdf",
            fig7_png=report(
                f"{FIGURES}/fig7.png",
                caption="../report/fig7.rst",
                category=CATEGORY["Beyond the paper"],
            ),
            fig8_pdf=f"{FIGURES}/fig8.pdf",
            fig8_png=report(
                f"{FIGURES}/fig8.png",
                caption="../report/fig8.rst",
                category=CATEGORY["Beyond the paper"],
            ),
        log:
            f"{RUN}/logs/sat_uncertainty.log",
        conda:
            "../envs/torch.yaml"
        params:
            **({"partial": True} if ADAPTIVE else {}),
            seed=SEED,
            models=MODELS,
            eps_s=config["sat"]["eps_s"],
            n_clusters=config["analysis"]["n_clusters"],
            bootstrap=SIMILARITY["bootstrap"],
            cluster_bootstrap=SIMILARITY["cluster_bootstrap"],
            subset_sizes=SIMILARITY["subset_sizes"],
            subset_bootstrap=SIMILARITY["subset_bootstrap"],
            title_prefix=TITLE_PREFIX,
        script:
            "../scripts/sat_uncertainty.py"

    rule similarity_measures:
        input:
            eval=f"{RUN}/data/eval.safetensors",
            clean=per_model(f"{RUN}/clean/{{model}}.safetensors"),
            features=per_model(f"{RUN}/features/{{model}}.safetensors"),
            gradients=per_model(f"{RUN}/gradients/{{model}}.safetensors"),
        output:
            **{
                name: report(
                    f"{RUN}/similarity/{name}.csv",
                    caption="../report/similarity.rst",
                    category=CATEGORY["Beyond the paper"],
                )
                for name in MEASURES
            },
        log:
            f"{RUN}/logs/similarity_measures.log",
        conda:
            "../envs/torch.yaml"
        params:
            models=MODELS,
        script:
            "../scripts/similarity_measures.py"

    rule compare_measures:
        input:
            **{name: f"{RUN}/similarity/{name}.csv" for name in MEASURES},
            **sat_inputs(),
            ensemble_pairs=f"{RUN}/analysis/ensemble_pairs.csv",
        output:
            pairs=f"{RUN}/similarity/pairs.csv",
            correlations=f"{RUN}/similarity/rank_correlations.csv",
            summary=report(
                f"{RUN}/similarity/summary.csv",
                caption="../report/measure_summary.rst",
                category=CATEGORY["Beyond the paper"],
            ),
            fig9_pdf=f"{FIGURES}/fig9.pdf",
            fig9_png=report(
                f"{FIGURES}/fig9.png",
                caption="../report/fig9.rst",
                category=CATEGORY["Beyond the paper"],
            ),
        log:
            f"{RUN}/logs/compare_measures.log",
        conda:
            "../envs/analysis.yaml"
        params:
            seed=SEED,
            measures=MEASURES,
            components=COMPONENTS,
            folds=config["analysis"]["importance_folds"],
            repeats=config["analysis"]["importance_repeats"],
            bootstrap=config["ensembles"]["bootstrap"],
            title_prefix=TITLE_PREFIX,
        script:
            "../scripts/compare_measures.py"
