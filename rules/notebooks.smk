# The notebooks in notebooks/, executed against this run's results.


rule notebooks:
    input:
        sat=f"{RUN}/sat/sat.csv",
        clusters=f"{RUN}/analysis/clusters.csv",
        members=f"{RUN}/analysis/cluster_members.csv",
        values=f"{RUN}/analysis/cluster_component_values.csv",
        stability=f"{RUN}/analysis/cluster_stability.csv",
        importance=f"{RUN}/analysis/component_importance.csv",
        effects=f"{RUN}/analysis/shared_component_effects.csv",
        figures=expand(f"{FIGURES}/fig{{n}}.png", n=[1, 2, 3, 4]),
    output:
        report(
            f"{RUN}/notebooks/{{notebook}}.ipynb",
            caption="../report/notebook.rst",
            category=CATEGORY["Notebooks"],
        ),
    log:
        f"{RUN}/logs/notebooks/{{notebook}}.log",
    conda:
        "../envs/notebook.yaml"
    params:
        notebook_sha256=notebook_sha256,
    script:
        "../scripts/notebooks.py"
