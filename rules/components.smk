# What drives similarity: component importance (fig3), SAT by shared component (fig4), and the
# spectral clusters described by their members and component values.


rule component_importance:
    input:
        sat=f"{RUN}/sat/sat.csv",
    output:
        table=report(
            f"{RUN}/analysis/component_importance.csv",
            caption="../report/component_importance.rst",
            category="3. Components",
        ),
        pdf=f"{FIGURES}/fig3.pdf",
        png=report(
            f"{FIGURES}/fig3.png",
            caption="../report/fig3.rst",
            category="3. Components",
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
        sat=f"{RUN}/sat/sat.csv",
    output:
        pairs=f"{RUN}/analysis/pair_components.csv",
        effects=report(
            f"{RUN}/analysis/shared_component_effects.csv",
            caption="../report/shared_component_effects.rst",
            category="3. Components",
        ),
        pdf=f"{FIGURES}/fig4.pdf",
        png=report(
            f"{FIGURES}/fig4.png",
            caption="../report/fig4.rst",
            category="3. Components",
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


rule cluster_profiles:
    input:
        sat=f"{RUN}/sat/sat.csv",
        clusters=f"{RUN}/analysis/clusters.csv",
    output:
        members=report(
            f"{RUN}/analysis/cluster_members.csv",
            caption="../report/cluster_members.rst",
            category="2. Clusters",
        ),
        values=report(
            f"{RUN}/analysis/cluster_component_values.csv",
            caption="../report/cluster_component_values.rst",
            category="2. Clusters",
        ),
        stability=report(
            f"{RUN}/analysis/cluster_stability.csv",
            caption="../report/cluster_stability.rst",
            category="2. Clusters",
        ),
    log:
        f"{RUN}/logs/cluster_profiles.log",
    conda:
        "../envs/analysis.yaml"
    params:
        seed=SEED,
        components=COMPONENTS,
        n_clusters=config["analysis"]["n_clusters"],
        n_seeds=config["analysis"]["stability_seeds"],
    script:
        "../scripts/cluster_profiles.py"
