# The authors' released SAT matrix: as this run's matrix (sat.source: released), or to compare
# this run's own matrix with (analysis.compare_released).


# Downloads a URL in sat.released_matrix (runs where the network is). A local file is read where
# it is; this rule copies one only when its output is asked for by name.
rule fetch_released_matrix:
    output:
        raw=f"{RUN}/released/SAT_release.csv",
    log:
        f"{RUN}/logs/fetch_released_matrix.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        source=config["sat"]["released_matrix"],
    script:
        "../scripts/fetch_released.py"


if config["sat"]["source"] == "released":

    rule released_sat:
        input:
            raw=released_matrix_file(),
        output:
            sat=report(
                f"{RUN}/sat/sat.csv",
                caption="../report/sat.rst",
                category=CATEGORY["SAT matrix"],
            ),
        log:
            f"{RUN}/logs/released_sat.log",
        conda:
            "../envs/analysis.yaml"
        params:
            models=MODELS,
            eps_s=config["sat"]["eps_s"],
            known=list(FULL_REGISTRY),
        script:
            "../scripts/released_sat.py"

else:

    rule compare_released:
        input:
            **sat_inputs(),
            raw=released_matrix_file(),
        output:
            summary=report(
                f"{RUN}/analysis/released_comparison.csv",
                caption="../report/released_comparison.rst",
                category=CATEGORY["Reproduction check"],
            ),
            pairs=f"{RUN}/analysis/released_pairs.csv",
            pdf=f"{FIGURES}/ours_vs_released.pdf",
            png=report(
                f"{FIGURES}/ours_vs_released.png",
                caption="../report/ours_vs_released.rst",
                category=CATEGORY["Reproduction check"],
            ),
        log:
            f"{RUN}/logs/compare_released.log",
        conda:
            "../envs/analysis.yaml"
        params:
            seed=SEED,
            eps_s=config["sat"]["eps_s"],
            known=list(FULL_REGISTRY),
            top_k=config["analysis"]["top_k_pairs"],
            n_clusters=config["analysis"]["n_clusters"],
            title_prefix=TITLE_PREFIX,
        script:
            "../scripts/compare_released.py"
