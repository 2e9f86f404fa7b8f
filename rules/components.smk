# What drives similarity: component importance (fig3), SAT by shared component (fig4).


rule component_importance:
    input:
        **sat_inputs(),
    output:
        table=report(
            f"{RUN}/analysis/component_importance.csv",
            caption="../report/component_importance.rst",
            category=CATEGORY["Components"],
        ),
        pdf=f"{FIGURES}/fig3.pdf",
        png=report(
            f"{FIGURES}/fig3.png",
            caption="../report/fig3.rst",
            category=CATEGORY["Components"],
        ),
    log:
        f"{RUN}/logs/component_importance.log",
    conda:
        "../envs/analysis.yaml"
    params:
        seed=SEED,
        components=COMPONENTS,
        folds=config["analysis"]["importance_folds"],
        repeats=config["analysis"]["importance_repeats"],
        title_prefix=TITLE_PREFIX,
    script:
        "../scripts/component_importance.py"


rule shared_components:
    input:
        **sat_inputs(),
    output:
        pairs=f"{RUN}/analysis/pair_components.csv",
        effects=report(
            f"{RUN}/analysis/shared_component_effects.csv",
            caption="../report/shared_component_effects.rst",
            category=CATEGORY["Components"],
        ),
        pdf=f"{FIGURES}/fig4.pdf",
        png=report(
            f"{FIGURES}/fig4.png",
            caption="../report/fig4.rst",
            category=CATEGORY["Components"],
        ),
    log:
        f"{RUN}/logs/shared_components.log",
    conda:
        "../envs/analysis.yaml"
    params:
        components=COMPONENTS,
        title_prefix=TITLE_PREFIX,
    script:
        "../scripts/shared_components.py"
