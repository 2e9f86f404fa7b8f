# Distillation against SAT: students trained from scratch, each with teachers spread over SAT to
# its architecture and without a teacher, with the same seeds, data order and budget (fig6).


wildcard_constraints:
    student=r"[A-Za-z0-9_.\-]+",
    teacher=r"[A-Za-z0-9_.\-]+",
    seed=r"\d+",


# Which teachers depends on the SAT matrix, so the plan is a checkpoint that shapes the DAG.
checkpoint distillation_plan:
    input:
        **sat_inputs(),
    output:
        plan=f"{RUN}/distillation/plan.csv",
    log:
        f"{RUN}/logs/distillation_plan.log",
    conda:
        "../envs/analysis.yaml"
    params:
        students=DISTILLATION.get("students", []),
        teachers=DISTILLATION.get("teachers", 3),  # how many, spread over SAT; or names
    script:
        "../scripts/distillation_plan.py"


rule distill:
    input:
        train=TRAIN_SET,
        eval=f"{RUN}/data/eval.safetensors",
        weights=teacher_file("safetensors"),
        card=teacher_file("json"),
    output:
        f"{RUN}/distillation/{{student}}/{{teacher}}/seed{{seed}}.json",
    log:
        f"{RUN}/logs/distill/{{student}}/{{teacher}}/seed{{seed}}.log",
    benchmark:
        f"{RUN}/benchmarks/distill/{{student}}/{{teacher}}/seed{{seed}}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=GPUS_PER_JOB,
    params:
        student_spec=lambda wildcards: REGISTRY.get_spec(wildcards.student).describe(),
        teacher_spec=lambda wildcards: (
            None
            if wildcards.teacher == "none"
            else REGISTRY.get_spec(wildcards.teacher).describe()
        ),
        training=DISTILLATION.get("training"),
        distill={
            key: DISTILLATION.get(key)
            for key in ("temperature", "alpha", "hard")
            if key in DISTILLATION
        },
        # Not an output: Snakemake would delete it before a rerun, and it is what resumes one.
        checkpoint=lambda wildcards: f"{RUN}/distillation/checkpoints/"
        f"{wildcards.student}__{wildcards.teacher}__seed{wildcards.seed}.pt",
        autocast=config["compute"]["autocast"],
    script:
        "../scripts/distill.py"


rule distillation_summary:
    input:
        plan=f"{RUN}/distillation/plan.csv",
        results=distillation_results,
    output:
        runs=f"{RUN}/analysis/distillation_runs.csv",
        table=report(
            f"{RUN}/analysis/distillation.csv",
            caption="../report/distillation.rst",
            category=CATEGORY["Ensembles and distillation"],
        ),
        pdf=f"{FIGURES}/fig6.pdf",
        png=report(
            f"{FIGURES}/fig6.png",
            caption="../report/fig6.rst",
            category=CATEGORY["Ensembles and distillation"],
        ),
    log:
        f"{RUN}/logs/distillation_summary.log",
    conda:
        "../envs/analysis.yaml"
    params:
        title_prefix=TITLE_PREFIX,
    script:
        "../scripts/distillation_summary.py"
