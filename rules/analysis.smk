# Spectral clusters, t-SNE embedding and the figures drawn from them.


rule clusters:
    input:
        sat=f"{RUN}/sat/sat.csv",
    output:
        clusters=f"{RUN}/analysis/clusters.csv",
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
        sat=f"{RUN}/sat/sat.csv",
        clusters=f"{RUN}/analysis/clusters.csv",
        embedding=f"{RUN}/analysis/tsne.csv",
    output:
        fig1_pdf=f"{FIGURES}/fig1.pdf",
        fig1_png=f"{FIGURES}/fig1.png",
        fig2_pdf=f"{FIGURES}/fig2.pdf",
        fig2_png=f"{FIGURES}/fig2.png",
    log:
        f"{RUN}/logs/sat_figures.log",
    conda:
        "../envs/analysis.yaml"
    params:
        seed=SEED,
        title_prefix=f"{config['run_name']} run",
    script:
        "../scripts/sat_figures.py"
