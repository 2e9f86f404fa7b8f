# Config validation, the model list and path helpers shared by every rule module.
import csv
import json
import subprocess
import sys
from pathlib import Path

import yaml

# The satsim package lives in src/; the Snakefile needs only its Snakemake-light parts.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from snakemake.utils import validate

from satsim.compute.gpus import default_gpu_limit, visible_gpus
from satsim.models.registry import load_registry
from satsim.similarity.pair_strategy import landmark_pairs, sources_by_target
from satsim.similarity.released_source import is_url
from satsim.workflow.atomic import sha256_file
from satsim.bundle.manifest import IMPORT_RECORD
from satsim.workflow.config import (
    check_analysis_ranges,
    check_bundle_import,
    check_config,
    check_distillation,
    check_factory_weights,
    check_imagenet_paths,
    check_pair_strategy,
    check_eval_counts,
    check_subset_sizes,
    local_weights,
    model_count_notes,
    selected_models,
)

SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"
REPLAY_AUTO_MODELS = 20

# One line per bad key, before Snakemake's own long message.
check_config(config, SCHEMA)
validate(config, str(SCHEMA))  # fills in schema defaults

RUN = f"results/{config['run_name']}"
FIGURES = config["figures_dir"]
SEED = config["seed"]


def workflow_path(path):
    """A config path: as given if it exists from the working directory, else relative to the
    workflow (so ``--directory`` elsewhere still finds the shipped registries)."""
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    return Path(workflow.basedir) / given


FULL_REGISTRY = load_registry(
    [workflow_path(path) for path in config["models"]["registry"]]
    if isinstance(config["models"]["registry"], list)
    else workflow_path(config["models"]["registry"])
)
# Names in the config are checked against the whole registry: a model left out of this run is
# still a valid name (local weights or an exclude list shared between subsets).
REGISTRY = selected_models(config["models"], FULL_REGISTRY)
MODELS = list(REGISTRY)
LOCAL_WEIGHTS = local_weights(config["models"], FULL_REGISTRY)
check_factory_weights(config["models"], REGISTRY, LOCAL_WEIGHTS)

COMPONENTS = {name: spec.components for name, spec in REGISTRY.items()}
FAMILIES = {name: parts["Base architecture"] for name, parts in COMPONENTS.items()}
TITLE_PREFIX = f"{config['run_name']} run"
COMPUTED = config["sat"]["source"] == "computed"  # else: the authors' released matrix

# Which pairs are measured: all (the paper), or adaptive: every model against the landmarks, then
# per round each model's predicted nearest partners (a checkpoint per round), the rest estimated.
PAIRS = config["sat"]["pairs"]
LANDMARKS = check_pair_strategy(config["sat"], MODELS, FAMILIES, COMPUTED)
ADAPTIVE = bool(LANDMARKS)
ROUNDS = PAIRS["rounds"] if ADAPTIVE else 0
if ADAPTIVE:
    LANDMARK_SOURCES = sources_by_target(MODELS, landmark_pairs(MODELS, LANDMARKS))
# The counted matrix: sat.csv itself, or, in an adaptive run, its measured cells (NaN elsewhere)
# that the estimate completes into sat.csv.
SAT_COUNTED = f"{RUN}/sat/sat_measured.csv" if ADAPTIVE else f"{RUN}/sat/sat.csv"
# Replaying the adaptive strategy needs a complete measured matrix: a released run, or a computed
# run of every pair; 'auto' replays where the (k, m) grid says something (20 models or more).
_replay = config["sat"]["replay"]["run"]
REPLAY = (not ADAPTIVE) and (
    _replay is True
    or (_replay == "auto" and (not COMPUTED or len(MODELS) >= REPLAY_AUTO_MODELS))
)

# The report's categories, numbered 1..n over those this run fills (a released run has no checks,
# ensembles or reproduction check), so the report shows no gaps or repeats.
_categories = [
    ("Summary", True),
    ("Checks", COMPUTED),
    ("SAT matrix", True),
    ("Clusters", True),
    ("Components", True),
    ("Reproduction check", COMPUTED and config["analysis"]["compare_released"]),
    ("Ensembles and distillation", COMPUTED),
    ("Beyond the paper", COMPUTED or REPLAY),
    ("Notebooks", True),
]
CATEGORY = {
    name: f"{number}. {name}"
    for number, name in enumerate((name for name, used in _categories if used), start=1)
}
# Categories a run does not fill keep a name, for rules that are defined but not run.
CATEGORY |= {name: name for name, used in _categories if not used}

# The paper run stops here, before any job, if its ImageNet folder is missing or unusable.
if config["data"]["source"] == "imagenet" and COMPUTED:
    check_imagenet_paths(config["data"], resolve=workflow_path)

# Distillation trains students on the demo's train split, or on an ImageNet training subset
# (data.imagenet_train); a paper run without that path skips it and says so.
DISTILLATION = config.get("distillation") or {}
if config["data"]["source"] == "digits":
    TRAIN_SET = f"{RUN}/data/train.safetensors"
else:
    TRAIN_SET = f"{RUN}/data/train_subset.safetensors"
DISTILL = bool(DISTILLATION.get("students")) and COMPUTED
if (
    DISTILL
    and config["data"]["source"] == "imagenet"
    and not config["data"].get("imagenet_train")
):
    DISTILL = False
    print(
        "note: distillation (fig6) is skipped: set data.imagenet_train to the ILSVRC2012 training "
        "images to run it",
        file=sys.stderr,
    )
# Mistakes that depend on the selected models stop the run here, before any job.
check_distillation(DISTILLATION, FULL_REGISTRY, MODELS, runs=DISTILL)
check_analysis_ranges(config["analysis"], len(MODELS), COMPUTED)
check_subset_sizes(config, COMPUTED)
check_eval_counts(config, COMPUTED)
# Importing a bundle (another clone's finished run): the only target is the import itself;
# afterwards the run is as if it had been computed here.
BUNDLE_IMPORT = check_bundle_import(config, COMPUTED)
_notes = model_count_notes(config, len(MODELS), ensembles=COMPUTED, distill=DISTILL)
for _note in _notes:
    print(f"note: {_note}", file=sys.stderr)

# Params are what a job's numbers depend on: Snakemake reruns a job when one changes.
# Execution settings (compute.device, compute.batch_size, attack.batch_size) are read by the
# scripts from the config instead, so that fitting a batch to a GPU never redoes finished work.
# The native attack draws each image's random start from its own seed (batch-independent);
# advertorch draws one per batch, so there the batch size changes the numbers.
ATTACK_SETTINGS = {
    key: value
    for key, value in config["attack"].items()
    if key != "batch_size" or config["attack"]["backend"] == "advertorch"
}

# GPU rules claim one GPU each, and each job takes a free GPU itself (satsim.compute.gpus). A
# local run without --resources gpu=N runs as many GPU jobs at once as the machine has GPUs (one
# for a pinned cuda:N); Slurm gives each job its own allocation instead.
GPUS_PER_JOB = 0 if config["compute"]["device"] == "cpu" else 1
if (
    workflow.is_main_process
    and workflow.local_exec
    and "gpu" not in workflow.global_resources
):
    _gpu_limit = default_gpu_limit(config["compute"]["device"], visible_gpus())
    if _gpu_limit is not None:
        workflow.register_resource("gpu", _gpu_limit)


wildcard_constraints:
    model=r"[A-Za-z0-9_.\-]+",
    notebook=r"[A-Za-z0-9_\-]+",
    round=r"\d+",


def model_spec(wildcards):
    """The registry entry of the job's model, as plain data for the script."""
    return REGISTRY[wildcards.model].describe()


def factory_file(wildcards):
    """A factory model's .py file (bring your own architecture): editing it rebuilds the
    model's weights, and so everything made from them."""
    target = (REGISTRY[wildcards.model].factory or "").rpartition(":")[0]
    return [target] if target.endswith(".py") else []


def per_model(pattern):
    """``pattern`` (with {model}) expanded over every model of the run."""
    return expand(pattern, model=MODELS)


def all_targets():
    """What a plain ``snakemake`` makes: the run, or while importing a bundle, the import."""
    if BUNDLE_IMPORT:
        return [f"{RUN}/{IMPORT_RECORD}"]
    return run_targets()


def run_targets():
    targets = [
        f"{RUN}/sat/sat.csv",
        f"{RUN}/analysis/clusters.csv",
        f"{RUN}/analysis/component_importance.csv",
        f"{RUN}/analysis/shared_component_effects.csv",
        f"{RUN}/analysis/cluster_members.csv",
        *expand(f"{FIGURES}/fig{{n}}.{{ext}}", n=[1, 2, 3, 4], ext=["pdf", "png"]),
        f"{RUN}/notebooks/explore_run.ipynb",
        f"{RUN}/reports/summary.md",
    ]
    if COMPUTED:
        # Every model's artefacts are targets too: one deleted or lost (a forced rerun killed
        # after Snakemake removed the old file) is made again, not ignored because the files
        # made from it are still there.
        for stage in (
            "models",
            "clean",
            "features",
            "gradients",
            "adversarial",
            "transfer",
        ):
            targets += per_model(f"{RUN}/{stage}/{{model}}.safetensors")
        targets.append(f"{RUN}/reports/clean_accuracy.csv")
        targets += expand(
            f"{FIGURES}/fig{{n}}.{{ext}}", n=[5, 7, 8, 9], ext=["pdf", "png"]
        )
        targets += [f"{RUN}/sat/intervals.csv", f"{RUN}/similarity/summary.csv"]
        if config["analysis"]["compare_released"]:
            targets.append(f"{RUN}/analysis/released_comparison.csv")
    if ADAPTIVE:
        targets += [f"{RUN}/sat/measured.csv", f"{RUN}/sat/estimate_error.csv"]
    if REPLAY:
        targets.append(f"{RUN}/analysis/adaptive_replay.csv")
        targets += expand(f"{FIGURES}/fig10.{{ext}}", ext=["pdf", "png"])
    if DISTILL:
        targets += expand(f"{FIGURES}/fig6.{{ext}}", ext=["pdf", "png"])
    return targets


def sat_inputs():
    """The SAT matrix an analysis reads and, in an adaptive run, which of its cells were
    measured: the analysis says which pairs it took from the estimate."""
    inputs = {"sat": f"{RUN}/sat/sat.csv"}
    if ADAPTIVE:
        inputs["measured"] = f"{RUN}/sat/measured.csv"
    return inputs


def summary_inputs(wildcards):
    """The tables the run summary reads: those of the stages this run has."""
    inputs = {
        "sat": f"{RUN}/sat/sat.csv",
        "clusters": f"{RUN}/analysis/clusters.csv",
        "importance": f"{RUN}/analysis/component_importance.csv",
    }
    if COMPUTED:
        inputs["transfer_rate"] = f"{RUN}/sat/transfer_rate.csv"
        inputs["intervals"] = f"{RUN}/sat/intervals.csv"
        inputs["cluster_ari"] = f"{RUN}/analysis/cluster_bootstrap.csv"
        inputs["images_needed"] = f"{RUN}/analysis/images_needed.csv"
        inputs["measures"] = f"{RUN}/similarity/summary.csv"
        inputs["clean_accuracy"] = f"{RUN}/reports/clean_accuracy.csv"
        inputs["ensembles"] = f"{RUN}/analysis/ensemble_correlations.csv"
    if ADAPTIVE:
        inputs["measured"] = f"{RUN}/sat/measured.csv"
        inputs["estimate_error"] = f"{RUN}/sat/estimate_error.csv"
    if REPLAY:
        inputs["replay"] = f"{RUN}/analysis/adaptive_replay.csv"
    if DISTILL:
        inputs["distillation"] = f"{RUN}/analysis/distillation.csv"
    return inputs


def teacher_file(suffix):
    def files(wildcards):
        if wildcards.teacher == "none":
            return []
        return f"{RUN}/models/{wildcards.teacher}.{suffix}"

    return files


def distillation_results(wildcards):
    """Every (student, teacher, seed) of the plan, plus each student without a teacher."""
    with open(checkpoints.distillation_plan.get().output.plan) as handle:
        pairs = [(row["student"], row["teacher"]) for row in csv.DictReader(handle)]
    pairs += [(student, "none") for student in DISTILLATION["students"]]
    return [
        f"{RUN}/distillation/{student}/{teacher}/seed{seed}.json"
        for student, teacher in pairs
        for seed in DISTILLATION["seeds"]
    ]


# The released matrix as the rules that read it take it: a local sat.released_matrix as
# itself, so that editing the file reruns them; a URL as the fetch rule's download.
def released_matrix_file():
    source = config["sat"]["released_matrix"]
    return f"{RUN}/released/SAT_release.csv" if is_url(source) else source


# Adaptive pairs. Round 0 measures the landmark pairs; round r (1..ROUNDS) adds the pairs that
# checkpoint pair_plan picked from round r - 1's estimate. The last round writes transfer/, the
# files every later rule reads; earlier rounds write transfer/round<r>/. A job's inputs are only
# the adversarial sets it evaluates, so the DAG has O(N (landmarks + neighbours)) edges.
def transfer_file(round_, model):
    if round_ == ROUNDS:
        return f"{RUN}/transfer/{model}.safetensors"
    return f"{RUN}/transfer/round{round_}/{model}.safetensors"


_planned = {}


def planned_sources(round_):
    """target -> the sources measured up to ``round_`` (round 0: the landmark pairs)."""
    if round_ == 0:
        return LANDMARK_SOURCES
    if round_ not in _planned:
        earlier = planned_sources(round_ - 1)
        plan = checkpoints.pair_plan.get(round=round_).output.plan
        added = {model: set(sources) for model, sources in earlier.items()}
        with open(plan) as handle:
            for row in csv.DictReader(handle):
                added[row["model_b"]].add(row["model_a"])
                added[row["model_a"]].add(row["model_b"])
        _planned[round_] = {t: [m for m in MODELS if m in added[t]] for t in MODELS}
    return _planned[round_]


def transfer_sources(round_):
    """The sources a transfer job of ``round_`` (None: the run's transfer/ files) evaluates."""

    def sources(wildcards):
        if not ADAPTIVE:
            return MODELS
        return planned_sources(ROUNDS if round_ is None else int(wildcards.round))[
            wildcards.model
        ]

    return sources


def transfer_inputs(round_, kind):
    """The adversarial sets (``kind`` adversarial) or the source cards (models) of a transfer
    job, in the order of its sources."""
    suffix = "json" if kind == "models" else "safetensors"

    def files(wildcards):
        return [
            f"{RUN}/{kind}/{source}.{suffix}"
            for source in transfer_sources(round_)(wildcards)
        ]

    return files


def record_imported_run():
    """After an import: ``snakemake --touch --forceall`` with this config less ``bundle``, so
    that every imported output gets Snakemake's records (with the same software deployment,
    whose hash the records hold). Its output goes to logs/import_bundle_records.log."""
    if not Path(f"{RUN}/{IMPORT_RECORD}").is_file():
        return
    settings = Path(f"{RUN}/logs/import_bundle_config.yaml")
    plain = json.loads(json.dumps({k: v for k, v in config.items() if k != "bundle"}))
    settings.write_text(yaml.safe_dump(plain, sort_keys=False))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        workflow.main_snakefile,
    ]
    command += ["--configfile", str(settings), "--touch", "--forceall", "--cores", "1"]
    command += ["--nolock"]  # this run's lock is still held
    deployment = workflow.deployment_settings
    if "conda" in {str(method).lower() for method in deployment.deployment_method}:
        command += ["--software-deployment-method", "conda"]
        if deployment.conda_prefix:
            command += ["--conda-prefix", str(deployment.conda_prefix)]
    log = Path(f"{RUN}/logs/import_bundle_records.log")
    with open(log, "w") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        print(
            f"error: the bundle was imported, but recording its files for Snakemake failed "
            f"(see {log}); run: snakemake --touch --forceall --configfile {settings}",
            file=sys.stderr,
        )


def notebook_sha256(wildcards):
    """The notebook's content. It is a param, not an input: an input path into the workflow
    folder would change when the repository is moved or copied, and rerun a finished run.
    """
    return sha256_file(
        Path(workflow.basedir) / "notebooks" / f"{wildcards.notebook}.py"
    )
