# Does diversity pay? Ensembles from the clean predictions (fig5) and distillation (fig6).


rule ensembles:
    input:
        **sat_inputs(),
        eval=f"{RUN}/data/eval.safetensors",
        clean=per_model(f"{RUN}/clean/{{model}}.safetensors"),
        clusters=f"{RUN}/analysis/clusters.csv",
    output:
        pairs=f"{RUN}/analysis/ensemble_pairs.csv",
        correlations=report(
            f"{RUN}/analysis/ensemble_correlations.csv",
            caption="../report/ensemble_correlations.rst",
            category=CATEGORY["Ensembles and distillation"],
        ),
        partners=f"{RUN}/analysis/ensemble_partners.csv",
        k_ensembles=f"{RUN}/analysis/ensemble_k_models.csv",
        pdf=f"{FIGURES}/fig5.pdf",
        png=report(
            f"{FIGURES}/fig5.png",
            caption="../report/fig5.rst",
            category=CATEGORY["Ensembles and distillation"],
        ),
    log:
        f"{RUN}/logs/ensembles.log",
    conda:
        "../envs/analysis.yaml"
    params:
        seed=SEED,
        models=MODELS,
        families=FAMILIES,
        max_pairs=config["ensembles"]["max_pairs"],
        bootstrap=config["ensembles"]["bootstrap"],
        k=config["ensembles"]["k"],
        k_samples=config["ensembles"]["k_samples"],
        title_prefix=TITLE_PREFIX,
    script:
        "../scripts/ensembles.py"
