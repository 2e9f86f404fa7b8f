# The run's headline numbers, read from its tables into one page of the report.


rule summary:
    input:
        unpack(summary_inputs),
    output:
        report(
            f"{RUN}/reports/summary.md",
            caption="../report/summary.rst",
            category=CATEGORY["Summary"],
        ),
    log:
        f"{RUN}/logs/summary.log",
    conda:
        "../envs/analysis.yaml"
    params:
        run_name=config["run_name"],
    script:
        "../scripts/summary.py"
