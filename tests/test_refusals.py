"""Every refusal, the way a user sees it (issue 19): each row of ``REFUSALS`` gives a bad input,
where it must be caught (before any job, or in which job) and the start of the first line on
screen. Each case runs the real ``snakemake`` and reads what it prints, stdout and stderr
interleaved as on a terminal: the first line that mentions an error must be the cause (file or
key, and the fix), before any traceback, and nothing on screen may advise ``weights_only=False``.

The same runs check the offline download path on success (a local Hugging Face cache made by the
test) and that a finished run, copied or moved with its repository, plans nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
import yaml
from fake_imagenet import make_fake_imagenet
from model_helpers import DEMO
from safetensors.torch import load_file, save_file
from synthetic_sat import write_release_csv
from workflow_helpers import (
    REPO,
    SNAKEMAKE,
    TINY_CONFIG,
    WORKFLOW_PATHS,
    copy_run,
    planned_jobs,
    snakemake,
)

from satsim.workflow.atomic import sha256_file

# A line that mentions an error, as a reader scanning the screen would spot it.
MENTIONS_ERROR = re.compile(r"error|traceback|exception", re.IGNORECASE)
# Snakemake's line before an exception raised while it reads the workflow (before any job).
PLAN_ERROR_HEADER = re.compile(r'^\w+ in file ".*", line \d+:$')
# Snakemake's header of a job it starts: "rule name:" or "localrule name:".
JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):$")
RELEASED = ["resnet50", "resnet101", "vit_small_patch16_224", "deit_small_patch16_224"]
BEFORE_ANY_JOB = "before any job"


def screen(workdir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """What ``snakemake ARGS`` prints in ``workdir``, stdout and stderr in one stream."""
    run = subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(workdir / "hf"), **(env or {})},
    )
    assert run.returncode != 0, f"the run should have stopped:\n{run.stdout[-3000:]}"
    return run.stdout


def job_screen(text: str, rule: str, wildcards: str | None = None) -> list[str]:
    """The lines from the header of the job of ``rule`` (with ``wildcards``, as Snakemake
    prints them, e.g. ``model=pit``) up to the next job's header."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        match = JOB_HEADER.match(line)
        if not match or match.group(1) != rule:
            continue
        end = next(
            (i for i in range(start + 1, len(lines)) if JOB_HEADER.match(lines[i])), len(lines)
        )
        block = lines[start:end]
        if wildcards is None or any(row.strip() == f"wildcards: {wildcards}" for row in block):
            return block
    raise AssertionError(f"no job of rule {rule} ({wildcards}) on screen:\n{text[-3000:]}")


def first_error_mention(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if MENTIONS_ERROR.search(line))


# --- The inputs, each made in a test's folder; a group shares one Snakemake run. -------------


def released_run(tmp: Path, matrix: pd.DataFrame, models: list[str] = RELEASED) -> list[str]:
    path = write_release_csv(matrix, tmp / "SAT_release.csv")
    config = ("--configfile", str(REPO / "configs" / "released.yaml"), "--config")
    config += (f"sat={{released_matrix: {path}}}", f"models={{include: {models}}}")
    return [
        "--cores",
        "1",
        *config,
        "analysis={n_clusters: 2}",
        "--",
        "results/released/sat/sat.csv",
    ]


def sat_matrix(names: list[str], seed: int = 0) -> pd.DataFrame:
    """A symmetric SAT matrix as the release writes it (ln of percentages, ln(99.5) on the
    diagonal)."""
    percent = np.random.default_rng(seed).uniform(5.0, 60.0, (len(names), len(names)))
    percent = (percent + percent.T) / 2
    np.fill_diagonal(percent, 99.5)
    return pd.DataFrame(np.log(percent), index=names, columns=names)


def released_with_a_blank_cell(tmp: Path) -> list[str]:
    matrix = sat_matrix(RELEASED)
    matrix.iloc[0, 1] = matrix.iloc[1, 0] = np.nan  # written as an empty cell
    return released_run(tmp, matrix)


def released_with_an_unknown_name(tmp: Path) -> list[str]:
    return released_run(tmp, sat_matrix([*RELEASED, "Swin-T"]))


def released_not_symmetric(tmp: Path) -> list[str]:
    matrix = sat_matrix(RELEASED)
    matrix.iloc[0, 1] += 0.5
    return released_run(tmp, matrix)


def released_without_a_model(tmp: Path) -> list[str]:
    return released_run(tmp, sat_matrix(RELEASED[:3]))


def tiny_config(tmp: Path, **sections: dict) -> Path:
    """tests/configs/tiny.yaml with ``sections`` merged into its top-level sections."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    for key, values in sections.items():
        config[key] = {**config.get(key, {}), **values}
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def subset_sizes_above_the_eval_set(tmp: Path) -> list[str]:
    config = tiny_config(tmp, similarity={"subset_sizes": [50, 500]})
    return ["--cores", "1", "--configfile", str(config)]


def registry_with_a_python_tag(tmp: Path) -> list[str]:
    registry = tmp / "mine.yaml"
    registry.write_text(
        "models:\n  mine: !!python/object/apply:os.system ['touch ran']\n"  # would run a command
    )
    config = tiny_config(tmp, models={"registry": str(registry), "include": []})
    return ["--cores", "1", "--configfile", str(config)]


def gradient_images_above_the_eval_set(tmp: Path) -> list[str]:
    config = tiny_config(tmp, similarity={"gradient_images": 200})
    return ["--cores", "1", "--configfile", str(config)]


def digits_eval_set_too_large(tmp: Path) -> list[str]:
    return ["--cores", "1", "--configfile", str(tiny_config(tmp, data={"eval_size": 5000}))]


def registry_entry(**entry) -> dict:
    """A registry entry with the components of a demo model (the registry requires them)."""
    return {"input_size": 32, "components": dict(DEMO["resnet10t"].components), **entry}


FACTORIES = textwrap.dedent(
    """
    from torch import nn


    def seven_outputs(num_classes=1000):
        # Ignores num_classes: 7 logits whatever the data.
        layers = [nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 7)]
        return nn.Sequential(*layers)
    """
)


def factory_models(tmp: Path) -> list[str]:
    """A tiny run with two factory models of your own: one ignores num_classes, one is in a
    file that fails to import."""
    (tmp / "nets.py").write_text(FACTORIES)
    (tmp / "broken.py").write_text("raise RuntimeError('a bug in my architecture file')\n")
    entries = {
        "seven": registry_entry(factory="nets.py:seven_outputs"),
        "broken": registry_entry(factory="broken.py:make_net"),
    }
    registry = tmp / "mine.yaml"
    registry.write_text(yaml.safe_dump({"models": entries}, sort_keys=False))
    models = {
        "registry": [str(REPO / "configs" / "models" / "demo.yaml"), str(registry)],
        "include": ["resnet10t", "seven", "broken"],
    }
    config = tiny_config(tmp, models=models)
    targets = ["results/tiny/models/seven.json", "results/tiny/models/broken.json"]
    return ["--cores", "1", "--keep-going", "--configfile", str(config), "--", *targets]


# The weights runs: a paper-style run (fake ImageNet) of small timm models, offline.
CACHED_TAG = "test_resnet.r160_in1k"  # a real timm tag of 0.5 M parameters
UNCACHED_TAG = "test_efficientnet.r160_in1k"


class RunsCode:
    """Pickled, loading it unsafely would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def hugging_face_cache(hf_home: Path, tag: str) -> None:
    """A local Hugging Face cache holding timm's weights for ``tag``, made from the architecture
    itself (seed 0), in the layout huggingface_hub reads (blobs, a snapshot per revision,
    refs/main)."""
    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in timm.create_model(tag).state_dict().items()}
    repo = hf_home / "hub" / f"models--timm--{tag}"
    revision = "0123456789abcdef0123456789abcdef01234567"
    (repo / "blobs").mkdir(parents=True)
    staged = repo / "blobs" / "staged"
    save_file(state, str(staged))
    blob = staged.rename(repo / "blobs" / sha256_file(staged))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    (repo / "snapshots" / revision).mkdir(parents=True)
    (repo / "snapshots" / revision / "model.safetensors").symlink_to(f"../../blobs/{blob.name}")


def pretrained_run(tmp: Path, tags: dict[str, str], local_weights: dict) -> list[str]:
    """A pretrained run of ``tags`` (model -> timm tag) on a fake ImageNet folder, asking for
    every model's weights (``fetch_weights``) and nothing else."""
    make_fake_imagenet(tmp / "imagenet" / "val", 3, "flat")
    entries = {
        name: registry_entry(architecture=tag, input_size=160, mean=[0.5] * 3, std=[0.5] * 3)
        for name, tag in tags.items()
    }
    registry = tmp / "small.yaml"
    registry.write_text(yaml.safe_dump({"models": entries}, sort_keys=False))
    models = {
        "registry": str(registry),
        "weights": "pretrained",
        "include": list(tags),
        "local_weights": local_weights,
    }
    data = {"source": "imagenet", "eval_size": 3, "imagenet_val": str(tmp / "imagenet" / "val")}
    similarity = {"gradient_images": 3}  # at most the eval set
    config = tiny_config(tmp, models=models, data=data, similarity=similarity)
    targets = [f"results/tiny/models/{name}.json" for name in tags]
    return ["--cores", "1", "--keep-going", "--configfile", str(config), "--", *targets]


def hub_weights_run(tmp: Path) -> list[str]:
    """One model in the local Hugging Face cache (fetched), one not (refused, offline)."""
    hugging_face_cache(tmp / "hf", CACHED_TAG)
    return pretrained_run(tmp, {"cached": CACHED_TAG, "uncached": UNCACHED_TAG}, {})


def local_weights_run(tmp: Path) -> list[str]:
    """Local files: one whose sha256 is not the one the config gives, one .pth whose pickle
    would run code."""
    plain = tmp / "wrong_sha.safetensors"
    state = timm.create_model(CACHED_TAG).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(plain))
    pickled = tmp / "pickled.pth"
    torch.save({"state_dict": RunsCode(tmp / "ran")}, pickled)
    local = {"wrong_sha": {"path": str(plain), "sha256": "0" * 64}, "pickled": str(pickled)}
    return pretrained_run(tmp, {"wrong_sha": CACHED_TAG, "pickled": CACHED_TAG}, local)


def bundle_without_a_manifest(tmp: Path) -> list[str]:
    (tmp / "not_a_bundle").mkdir()
    bundle = f"bundle={{import: {tmp / 'not_a_bundle'}}}"
    return ["--cores", "1", "--configfile", str(TINY_CONFIG), "--config", bundle, "-n"]


@dataclass(frozen=True)
class Refusal:
    """A bad input (``make`` writes it and returns snakemake's arguments; runs of one ``make``
    are shared), where it is caught (``BEFORE_ANY_JOB`` or the job: rule and wildcards), and
    the start of the first line on screen (after Snakemake's own ``... in file ...:`` line for a
    refusal before any job)."""

    make: Callable[[Path], list[str]]
    where: str
    first_line: str
    wildcards: str | None = None


REFUSALS = {
    "a bundle folder without a manifest": Refusal(
        bundle_without_a_manifest,
        BEFORE_ANY_JOB,
        "bundle.import = {tmp}/not_a_bundle: no manifest.json there; name the bundle folder",
    ),
    "similarity.subset_sizes above the eval set": Refusal(
        subset_sizes_above_the_eval_set,
        BEFORE_ANY_JOB,
        "similarity.subset_sizes: 500 is more than the 96 eval images (data.eval_size); use "
        "sizes from 10 to 96",
    ),
    "a registry with a !!python tag": Refusal(
        registry_with_a_python_tag,
        BEFORE_ANY_JOB,
        "{tmp}/mine.yaml, line 2: not a readable model registry (could not determine a "
        "constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'); a registry "
        "holds plain YAML: remove the tag",
    ),
    "a released matrix with an empty cell": Refusal(
        released_with_a_blank_cell,
        "released_sat",
        "ERROR ReleasedMatrixError: {tmp}/SAT_release.csv: cell (resnet50, resnet101) is empty "
        "or NaN, not a finite number",
    ),
    "a released matrix naming an unknown model": Refusal(
        released_with_an_unknown_name,
        "released_sat",
        "ERROR ReleasedMatrixError: {tmp}/SAT_release.csv: 1 model is not in the registry: "
        "Swin-T (did you mean swin_tiny_patch4_window7_224?). Rename them in the file",
    ),
    "local weights with another sha256": Refusal(
        local_weights_run,
        "fetch_weights",
        "ERROR WeightsError: models.local_weights.wrong_sha: {tmp}/wrong_sha.safetensors has "
        f"sha256 {{sha:wrong_sha.safetensors}}, but the config expects {'0' * 64}.",
        "model=wrong_sha",
    ),
    "local weights in a pickle that runs code": Refusal(
        local_weights_run,
        "fetch_weights",
        "ERROR WeightsError: {tmp}/pickled.pth: not a safetensors file or a PyTorch checkpoint "
        "of plain tensors (torch.load with weights_only=True refused it: Unsupported global: "
        "GLOBAL getattr); convert it to safetensors where you trust its source",
        "model=pickled",
    ),
    "HF_HUB_OFFLINE without the weights in the cache": Refusal(
        hub_weights_run,
        "fetch_weights",
        f"ERROR WeightsError: model 'uncached': could not fetch the pretrained weights "
        f"'{UNCACHED_TAG}' (HF_HUB_OFFLINE is set and they are not in the Hugging Face cache "
        "{tmp}/hf/hub). Download them on a machine with the network into a cache this machine "
        "reads (a shared HF_HOME: HF_HOME={tmp}/hf python -c",
        "model=uncached",
    ),
    "a released matrix that is not symmetric": Refusal(
        released_not_symmetric,
        "released_sat",
        "ERROR ReleasedMatrixError: {tmp}/SAT_release.csv: not symmetric: (resnet50, resnet101)",
    ),
    "a released matrix without a model of the run": Refusal(
        released_without_a_model,
        "released_sat",
        "ERROR ReleasedMatrixError: {tmp}/SAT_release.csv has no row for "
        "deit_small_patch16_224; leave them out with models.exclude",
    ),
    "data.eval_size above the digits": Refusal(
        digits_eval_set_too_large,
        BEFORE_ANY_JOB,
        "data.eval_size = 5000: the digits data has 1797 images and the models train on those "
        "not in the eval set; use 1 to 1796",
    ),
    "similarity.gradient_images above the eval set": Refusal(
        gradient_images_above_the_eval_set,
        BEFORE_ANY_JOB,
        "similarity.gradient_images = 200 is more than the 96 eval images (data.eval_size); "
        "use 1 to 96",
    ),
    "a factory that ignores num_classes": Refusal(
        factory_models,
        "train_model",
        "ERROR FactoryError: {tmp}/mine.yaml: model 'seven': factory '{tmp}/nets.py:seven_outputs'"
        ": gives 7 outputs per image at its input_size (32 x 32), but this run has 10 classes",
        "model=seven",
    ),
    "a factory file that fails to import": Refusal(
        factory_models,
        "train_model",
        "ERROR FactoryError: {tmp}/mine.yaml: model 'broken': factory '{tmp}/broken.py:make_net'"
        ": importing {tmp}/broken.py failed: RuntimeError: a bug in my architecture file",
        "model=broken",
    ),
}
# Runs of jobs that take seconds each (training data, torch in several jobs): the long tier.
SLOW = {
    "local weights with another sha256",
    "local weights in a pickle that runs code",
    "a released matrix that is not symmetric",
    "a released matrix without a model of the run",
    "a factory that ignores num_classes",
    "a factory file that fails to import",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``make`` -> (its folder, what the run printed), each run once per module."""
    done: dict[Callable, tuple[Path, str]] = {}

    def run(make: Callable[[Path], list[str]]) -> tuple[Path, str]:
        if make not in done:
            folder = tmp_path_factory.mktemp(make.__name__).resolve()
            done[make] = folder, screen(folder, *make(folder))
        return done[make]

    return run


def expected_line(refusal: Refusal, folder: Path) -> str:
    def sha(match: re.Match) -> str:
        return sha256_file(folder / match.group(1))

    return re.sub(r"\{sha:([^}]+)\}", sha, refusal.first_line).replace("{tmp}", str(folder))


@pytest.mark.parametrize(
    "case",
    [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in REFUSALS],
)
def test_the_first_line_on_screen_is_the_cause(runs, case):
    refusal = REFUSALS[case]
    folder, text = runs(refusal.make)
    expected = expected_line(refusal, folder)
    assert "weights_only=False" not in text  # never advice that runs a file's code
    if refusal.where == BEFORE_ANY_JOB:
        assert not any(JOB_HEADER.match(line) for line in text.splitlines()), text[-3000:]
        lines = text.splitlines()
        first = first_error_mention(lines)
        assert PLAN_ERROR_HEADER.match(lines[first]), text[-3000:]
        assert lines[first + 1].startswith(expected), lines[first + 1]
        return
    lines = job_screen(text, refusal.where, refusal.wildcards)
    first = lines[first_error_mention(lines)]
    assert first.startswith(expected), "\n".join(lines)
    # The traceback stays in the log, which Snakemake shows after the cause, marked off.
    before = "\n".join(lines[: lines.index(first)])
    assert "Traceback" not in before and 'File "' not in before
    log = next(line.split("log: ")[1].split(" ")[0] for line in lines if "log: " in line)
    assert (folder / log).read_text().splitlines()[0] == first


def test_a_single_failing_job_shows_its_cause_before_anything_else(runs):
    """One failing job: the first line of the whole screen that mentions an error is the
    cause, and the traceback appears only inside the log that Snakemake prints after it."""
    folder, text = runs(released_with_a_blank_cell)
    lines = text.splitlines()
    first = first_error_mention(lines)
    assert lines[first].startswith("ERROR ReleasedMatrixError: "), text
    assert "results/released/logs/released_sat.log" in lines[first + 1]
    traceback_at = next(i for i, line in enumerate(lines) if line.startswith("Traceback"))
    log_block = next(i for i, line in enumerate(lines) if line.startswith("Logfile "))
    assert first < log_block < traceback_at


def test_nothing_runs_from_a_registry(runs):
    folder, _ = runs(registry_with_a_python_tag)
    assert not (folder / "ran").exists()


@pytest.mark.slow  # torch in two more jobs
def test_nothing_runs_from_a_pickle_and_nothing_is_kept(runs):
    folder, _ = runs(local_weights_run)
    assert not (folder / "ran").exists()
    assert not list((folder / "results" / "tiny" / "models").glob("*"))


def test_weights_from_the_local_hugging_face_cache_offline(runs):
    """Item 6: the real download path (timm, huggingface_hub) with HF_HUB_OFFLINE=1 reads the
    local cache; the card records the tag and the sha256 of the stored weights, which are the
    ones in the cache. The model with nothing cached is refused (the table above), and the
    refused models leave no weights behind."""
    folder, _ = runs(hub_weights_run)
    models = folder / "results" / "tiny" / "models"
    card = json.loads((models / "cached.json").read_text())
    assert card["model"]["architecture"] == CACHED_TAG
    assert card["origin"] == f"timm/{CACHED_TAG}" and card["source"] == "timm pretrained"
    assert card["weights_sha256"] == sha256_file(models / "cached.safetensors")
    stored = load_file(str(models / "cached.safetensors"))
    torch.manual_seed(0)
    made = timm.create_model(CACHED_TAG).state_dict()
    assert stored.keys() == made.keys()
    assert all(torch.equal(stored[key], made[key]) for key in made)
    assert sorted(path.name for path in models.iterdir()) == ["cached.json", "cached.safetensors"]


def workflow_copy(destination: Path) -> Path:
    """The workflow's files (what a clone holds that a run reads) copied to ``destination``."""
    for name in WORKFLOW_PATHS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def test_a_finished_run_copied_or_moved_with_its_repository_plans_nothing(tiny_run, tmp_path):
    run_dir = copy_run(tiny_run, tmp_path / "run")
    copied = snakemake(run_dir, "-n", "--configfile", str(TINY_CONFIG))
    assert copied.returncode == 0 and planned_jobs(copied) == {}, copied.stdout[-2000:]
    repository = workflow_copy(tmp_path / "repository")
    moved = subprocess.run(
        [
            SNAKEMAKE,
            "--snakefile",
            str(repository / "Snakefile"),
            "--cores",
            "2",
            "-n",
            "--configfile",
            str(repository / "tests" / "configs" / "tiny.yaml"),
        ],
        cwd=run_dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert moved.returncode == 0, moved.stderr[-2000:]
    assert planned_jobs(moved) == {}, moved.stdout[-3000:] + moved.stderr[-3000:]


def test_the_tiny_config_suggests_a_model_that_plans(tiny_run):
    """The header of tests/configs/tiny.yaml suggests a command that adds a model; its models
    are in the demo registry and the command plans that model's jobs only."""
    suggested = re.search(r"--config models='(\{include: \[([^\]]+)\]\})'", TINY_CONFIG.read_text())
    names = [name.strip() for name in suggested.group(2).split(",")]
    assert set(names) <= set(DEMO) and len(names) == 4
    models = f"models={suggested.group(1)}"
    plan = snakemake(tiny_run, "-n", "--configfile", str(TINY_CONFIG), "--config", models)
    assert plan.returncode == 0, plan.stdout[-2000:] + plan.stderr[-2000:]
    assert planned_jobs(plan)["train_model"] == 1


def test_the_digits_count_of_the_config_check_is_scikit_learns():
    from sklearn.datasets import load_digits

    from satsim.workflow.config import DIGITS_IMAGES

    assert DIGITS_IMAGES == len(load_digits().target)
