# Spectral clusters, t-SNE embedding, the figures drawn from them (fig1, fig2), and each
# cluster described by its members and component values.


rule clusters:
    input:
        **sat_inputs(),
    output:
        clusters=report(
            f"{RUN}/analysis/clusters.csv",
            caption="../report/clusters.rst",
            category=CATEGORY["Clusters"],
        ),
        embedding=f"{RUN}/analysis/tsne.csv",
    log:
        f"{RUN}/logs/clusters.log",
    conda:
        "../envs/analysis.yaml"
    params:
        seed=SEED,
        n_clusters=config["analysis"]["n_clusters"],
        perplexity=config["analysis"]["tsne_perplexity"],
    script:
        "../scripts/clusters.py"


rule sat_figures:
    input:
        **({"measured": f"{RUN}/sat/measured.csv"} if ADAPTIVE else {}),
        sat=f"{RUN}/sat/sat.csv",
        clusters=f"{RUN}/analysis/clusters.csv",
        embedding=f"{RUN}/analysis/tsne.csv",
    output:
        fig1_pdf=f"{FIGURES}/fig1.pdf",
        fig1_png=report(
            f"{FIGURES}/fig1.png",
            caption="../report/fig1.rst",
            category=CATEGORY["Clusters"],
        ),
        fig2_pdf=f"{FIGURES}/fig2.pdf",
        fig2_png=report(
            f"{FIGURES}/fig2.png",
            caption="../report/fig2.rst",
            category=CATEGORY["SAT matrix"],
        ),
    log:
        f"{RUN}/logs/sat_figures.log",
    conda:
        "../envs/analysis.yaml"
    params:
        title_prefix=TITLE_PREFIX,
    script:
        "../scripts/sat_figures.py"


rule cluster_profiles:
    input:
        **sat_inputs(),
        clusters=f"{RUN}/analysis/clusters.csv",
    output:
        members=report(
            f"{RUN}/analysis/cluster_members.csv",
            caption="../report/cluster_members.rst",
            category=CATEGORY["Clusters"],
        ),
        values=report(
            f"{RUN}/analysis/cluster_component_values.csv",
            caption="../report/cluster_component_values.rst",
            category=CATEGORY["Clusters"],
        ),
        stability=report(
            f"{RUN}/analysis/cluster_stability.csv",
            caption="../report/cluster_stability.rst",
            category=CATEGORY["Clusters"],
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
