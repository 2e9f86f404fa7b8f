"""Issue 11, validate before anything runs: every config mistake that can be checked before the
first job stops ``snakemake -n`` at once, the first line of satsim's message naming the key and
the fix. Each case is one dry run (a few seconds)."""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fake_imagenet import make_fake_imagenet
from workflow_helpers import REPO, TINY_CONFIG, snakemake

PAPER_CONFIG = REPO / "config.yaml"
# docs/paper-run.md's subset command ("A subset of models"), with the fake ImageNet folder for VAL;
# the doc adds analysis={n_clusters: 2}, as 10 clusters do not fit 3 models.
README_SUBSET = "models={include: [resnet50, vit_small_patch16_224, swin_tiny_patch4_window7_224]}"

# Snakemake announces an exception raised while it reads the workflow with this line; satsim's
# message starts on the next one.
ERROR_HEADER = re.compile(r'^\w+ in file ".*", line \d+:$')


def first_error_line(run: subprocess.CompletedProcess) -> str:
    """The first line of the message satsim raised, or "" when nothing was raised (Snakemake
    prints the exception on stdout)."""
    lines = (run.stdout + "\n" + run.stderr).splitlines()
    for index, line in enumerate(lines[:-1]):
        if ERROR_HEADER.match(line):
            return lines[index + 1]
    return ""


def dry_run(workdir: Path, configfile: Path, *overrides: str) -> subprocess.CompletedProcess:
    args = ["-n", "--cores", "all", "--configfile", str(configfile)]
    return snakemake(workdir, *args, *(["--config", *overrides] if overrides else []), timeout=120)


@pytest.fixture(scope="module")
def fake_val(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("imagenet") / "val"
    make_fake_imagenet(root, 3, "flat")
    return root


# (overrides, the first line of satsim's message)
TINY_MISTAKES = [
    (
        ["models={exclude: [resnet10t, pit, gmlp]}"],
        "no models selected: models.exclude leaves out every model of models.include",
    ),
    (["models={include: [pit]}"], "only 1 model selected ('pit', from models.include"),
    (
        ["models={include: [resnet10t, pitt]}"],
        "models.include: model 'pitt' is not in the registry",
    ),
    (["models={exclude: [pitt]}"], "models.exclude: model 'pitt' is not in the registry"),
    (
        ["analysis={n_clusters: 4}"],
        "analysis.n_clusters = 4 is more than the 3 selected models",
    ),
    (
        ["models={include: [pit, gmlp]}", "analysis={compare_released: true}"],
        "analysis.compare_released needs at least 3 models",
    ),
    (
        ["distillation={students: [resnet10t], teachers: [pitt]}"],
        "distillation.teachers: model 'pitt' is not in the registry",
    ),
    (
        ["distillation={students: [resnet10t], teachers: [convnext]}"],
        "distillation.teachers: 'convnext' is not among the selected models",
    ),
    (
        ["distillation={students: [resnet10t], teachers: [resnet10t, pit]}"],
        "distillation.teachers: 'resnet10t' is also a student",
    ),
    (
        ["distillation={students: [resnet_10t]}"],
        "distillation.students: model 'resnet_10t' is not in the registry",
    ),
    (
        ["distillation={students: [convnext]}"],
        "distillation.students: 'convnext' is not among the selected models (models.include)",
    ),
    (["run_name=.."], "config key 'run_name' = '..': must be a plain folder name"),
    (["run_name=.hidden"], "config key 'run_name' = '.hidden': must be a plain folder name"),
    (["run_name=a/b"], "config key 'run_name' = 'a/b': must be a plain folder name"),
    (["run_name="], "config key 'run_name' = None: must be a plain folder name"),
    (["attack={epsilon: 3}"], "unknown config key 'attack.epsilon' (allowed here: "),
]


@pytest.fixture(scope="module")
def tiny_mistake_runs(tmp_path_factory) -> dict[tuple[str, ...], subprocess.CompletedProcess]:
    """Overrides -> the dry run of each TINY_MISTAKES case. They run two at a time: each is one
    single-threaded Snakemake process that reads the workflow and stops, so the cases take half
    the time that they take one after another."""
    cases = [tuple(overrides) for overrides, _ in TINY_MISTAKES]
    workdirs = [tmp_path_factory.mktemp("mistake") for _ in cases]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda case, workdir: dry_run(workdir, TINY_CONFIG, *case), cases, workdirs)
        return dict(zip(cases, runs, strict=True))


@pytest.mark.parametrize("overrides, first_line", TINY_MISTAKES)
def test_tiny_config_mistake_stops_the_dry_run_with_one_line(
    tiny_mistake_runs, overrides, first_line
):
    run = tiny_mistake_runs[tuple(overrides)]
    assert run.returncode != 0
    assert first_line in first_error_line(run), (run.stdout + run.stderr)[-2000:]
    assert "Building DAG" not in run.stdout + run.stderr  # stopped before planning any job


@pytest.mark.parametrize(
    "overrides, training_images, first_line",
    [
        # Fixing the false registry message reveals the real one: the paper's 10 clusters do not
        # fit 3 models.
        ([README_SUBSET], False, "analysis.n_clusters = 10 is more than the 3 selected models"),
        # With training images given, distillation runs, and the paper's second student is not
        # among the 3 models.
        (
            [README_SUBSET, "analysis={n_clusters: 2}"],
            True,
            "distillation.students: 'deit_small_patch16_224' is not among the selected models",
        ),
    ],
)
def test_paper_subset_mistake_stops_the_dry_run_with_one_line(
    tmp_path, fake_val, overrides, training_images, first_line
):
    train = f", imagenet_train: {fake_val.parent}" if training_images else ""
    run = dry_run(tmp_path, PAPER_CONFIG, f"data={{imagenet_val: {fake_val}{train}}}", *overrides)
    assert run.returncode != 0
    assert first_line in first_error_line(run), (run.stdout + run.stderr)[-2000:]


def test_readme_subset_command_plans_with_clusters_that_fit(tmp_path, fake_val):
    """docs/paper-run.md's subset command, verbatim (with n_clusters fitted to its 3 models), plans;
    ensembles of 5 and distillation (no training images) are skipped with a note."""
    run = dry_run(
        tmp_path,
        PAPER_CONFIG,
        f"data={{imagenet_val: {fake_val}}}",
        README_SUBSET,
        "analysis={n_clusters: 2}",
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
    assert "note: ensembles.k = 5 is more than the 3 selected models" in run.stderr


def test_local_weights_of_a_model_left_out_are_accepted(tmp_path, fake_val):
    weights = tmp_path / "convnext.safetensors"
    weights.write_bytes(b"")
    models = README_SUBSET.replace("]}", f"], local_weights: {{convnext_tiny: {weights}}}}}")
    run = dry_run(
        tmp_path,
        PAPER_CONFIG,
        f"data={{imagenet_val: {fake_val}}}",
        models,
        "analysis={n_clusters: 2}",
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]


@pytest.mark.parametrize(
    "overrides, note",
    [
        # Excluding a registry model that include already leaves out is harmless.
        (["models={exclude: [convnext]}"], ""),
        (["ensembles={k: [2, 4]}"], "note: ensembles.k = 4 is more than the 3 selected models"),
        (
            ["distillation={students: [resnet10t], teachers: 5}"],
            "note: distillation.teachers = 5: each student gets the 2 other selected models",
        ),
    ],
)
def test_tiny_config_variant_plans_with_a_note(tmp_path, overrides, note):
    run = dry_run(tmp_path, TINY_CONFIG, *overrides)
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
    assert note in run.stderr
