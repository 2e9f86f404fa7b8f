"""A finished run that travels: export the session's tiny run as a bundle, import it into a fresh
working directory (whose own data job rebuilds the digits eval set), and add a model there.

The default tier exports, imports (Snakemake then plans nothing), and refuses a tampered bundle,
another eval set, another config or a newer format; an import that stops midway resumes. Adding a
model to the imported zoo (training and attacking it) is the long tier."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import save_file
from workflow_helpers import (
    FOURTH,
    REPO,
    TINY,
    TINY_CONFIG,
    copy_run,
    models_override,
    pair_statuses,
    planned_jobs,
    snakemake,
)

from satsim.bundle import perturbations
from satsim.bundle.importing import import_bundle, stage_weights, weights_fetcher
from satsim.bundle.manifest import MANIFEST, BundleError, read_manifest
from satsim.models.factory import build_model
from satsim.models.registry import load_registry
from satsim.workflow.artifacts import load_tensors, save_tensors, sha256_tensors
from satsim.workflow.atomic import sha256_file

RUN = Path("results/tiny")
NOTHING = "Nothing to be done"


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory) -> Path:
    """A copy of the tiny run with its bundle exported by ``snakemake bundle``."""
    workdir = copy_run(tiny_run, tmp_path_factory.mktemp("exporter"))
    run = snakemake(workdir, "bundle", "--configfile", str(TINY_CONFIG))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir


@pytest.fixture(scope="module")
def bundle(exported) -> Path:
    return exported / RUN / "bundle"


def import_into(workdir: Path, bundle: Path, *extra: str):
    """The README's import command, run in ``workdir``."""
    return snakemake(
        workdir,
        "--configfile",
        str(bundle / "config.yaml"),
        "--config",
        f"bundle={{import: {bundle}}}",
        *extra,
    )


@pytest.fixture(scope="module")
def imported(bundle, tmp_path_factory) -> Path:
    """A fresh working directory (nothing but the workflow) with the bundle imported."""
    workdir = tmp_path_factory.mktemp("importer")
    run = import_into(workdir, bundle)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir


def run_files(workdir: Path) -> dict[str, str]:
    """sha256 of every file of the tiny run there, less logs and bundle records."""
    root = workdir / RUN
    return {
        str(path.relative_to(root)): sha256_file(path)
        for path in root.rglob("*")
        if path.is_file()
        and path.relative_to(root).parts[0] not in ("logs", "bundle", "bundle_import.json")
    }


def test_an_imported_run_is_the_exported_run_and_snakemake_plans_nothing(
    exported, imported, bundle
):
    # Byte for byte, the adversarial sets rebuilt from perturbations and the data job's own
    # eval images included.
    assert run_files(imported) == run_files(exported)
    plan = snakemake(imported, "--configfile", str(bundle / "config.yaml"), "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert NOTHING in plan.stdout + plan.stderr, planned_jobs(plan)
    # Snakemake has its records of the imported files: a new model or setting plans what it
    # changes, also for a single target.
    add = f"models={{include: [{', '.join([*TINY, 'convnext'])}]}}"
    plan = planned_jobs(
        snakemake(
            imported,
            "--configfile",
            str(bundle / "config.yaml"),
            "--config",
            add,
            "-n",
            "--",
            str(RUN / "sat" / "sat.csv"),
        )
    )
    assert plan["train_model"] == 1 and plan["attack"] == 1 and plan["transfer"] == 4, plan
    record = json.loads((imported / RUN / "bundle_import.json").read_text())
    assert (
        record["models"] == TINY
        and record["manifest_sha256"] == read_manifest(bundle)["manifest_sha256"]
    )


def test_a_bundle_carries_no_eval_pixels(bundle, exported):
    manifest = read_manifest(bundle)
    carried = set(manifest["files"])
    assert not [f for f in carried if "/data/" in f or "/adversarial/" in f], carried
    eval_images = load_tensors(exported / RUN / "data" / "eval.safetensors")[0]["images"]
    for model, entry in manifest["models"].items():
        encoded = (bundle / entry["perturbation"]["file"]).read_bytes()
        assert eval_images.numpy().tobytes()[:3072] not in encoded  # no image inside
        adversarial, _ = load_tensors(exported / RUN / "adversarial" / f"{model}.safetensors")
        assert len(encoded) < adversarial["images"].numel(), model


def test_exporting_again_gives_the_same_bytes(exported, tmp_path):
    again = copy_run(exported, tmp_path / "again")
    shutil.rmtree(again / RUN / "bundle")
    run = snakemake(again, "bundle", "--configfile", str(TINY_CONFIG))
    assert run.returncode == 0, run.stderr[-3000:]
    for name in (MANIFEST, "perturbations/pit.safetensors"):
        assert (again / RUN / "bundle" / name).read_bytes() == (
            exported / RUN / "bundle" / name
        ).read_bytes(), name


@pytest.mark.parametrize("epsilon", [1, 2, 40, 127, 200])
def test_perturbations_round_trip_at_every_budget(epsilon):
    generator = np.random.default_rng(epsilon)
    clean = generator.integers(0, 256, size=(5, 3, 8, 8), dtype=np.uint8)
    adversarial = np.clip(
        clean.astype(np.int16) + generator.integers(-epsilon, epsilon + 1, size=clean.shape), 0, 255
    ).astype(np.uint8)
    delta = perturbations.perturbation(adversarial, clean, epsilon)
    blob = perturbations.encode(delta, epsilon)
    assert np.array_equal(
        perturbations.apply(clean, perturbations.decode(blob, delta.shape, epsilon)), adversarial
    )
    with pytest.raises(perturbations.PerturbationError, match="budget"):
        perturbations.perturbation(adversarial, clean, epsilon - 1 if epsilon > 1 else 0)


def test_three_levels_pack_five_to_a_byte():
    # The paper's budget: each sub-pixel moves by -1, 0 or +1 level.
    assert perturbations.Packing(1).digits == 5 and perturbations.Packing(40).digits == 1


# Refusals. The library calls take the same arguments the import rule passes.


def library_import(bundle: Path, workdir: Path, eval_path: Path, config=None):
    manifest = read_manifest(bundle)
    specs = load_registry(REPO / "configs" / "models" / "demo.yaml")
    return import_bundle(
        bundle=bundle,
        run_dir=workdir / RUN,
        eval_path=eval_path,
        config=config or manifest["config"],
        identities={name: specs[name].identity() for name in manifest["models"]},
        fetch_weights=lambda *args: pytest.fail("a trained zoo fetches no weights"),
    )


def tampered_copy(bundle: Path, destination: Path, relative: str) -> Path:
    copy = Path(shutil.copytree(bundle, destination))
    target = copy / relative
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one byte
    target.write_bytes(bytes(data))
    return copy


@pytest.mark.parametrize(
    "relative",
    [
        "perturbations/gmlp.safetensors",
        "files/results/tiny/sat/sat.csv",
        "files/results/tiny/models/pit.safetensors",
        MANIFEST,
    ],
)
def test_a_one_byte_tampered_bundle_names_the_file(bundle, imported, tmp_path, relative):
    copy = tampered_copy(bundle, tmp_path / "bundle", relative)
    with pytest.raises(BundleError) as refusal:
        library_import(copy, tmp_path, imported / RUN / "data" / "eval.safetensors")
    assert str(copy / relative) in str(refusal.value)
    assert not (tmp_path / RUN).exists()  # nothing placed, nothing staged


def test_a_tampered_bundle_is_refused_on_the_first_line(bundle, tmp_path):
    copy = tampered_copy(bundle, tmp_path / "bundle", "files/results/tiny/clean/pit.safetensors")
    (tmp_path / "clone").mkdir()
    run = import_into(tmp_path / "clone", copy)
    assert run.returncode != 0
    first = next(line for line in run.stderr.splitlines() if line.startswith("ERROR"))
    assert "clean/pit.safetensors: its sha256 differs from the bundle's manifest" in first
    assert not (tmp_path / "clone" / RUN / "sat").exists()


def other_eval_set(imported: Path, destination: Path, change: str) -> Path:
    tensors, record = load_tensors(imported / RUN / "data" / "eval.safetensors")
    if change == "pixels":  # the same images, one sub-pixel decoded one level brighter
        tensors["images"][0, 0, 0, 0] += 1
    else:  # another image list
        tensors = {name: tensor[1:] for name, tensor in tensors.items()}
    record = {**record, "data_sha256": sha256_tensors(*tensors.values())}
    save_tensors(destination, tensors, record)
    return destination


@pytest.mark.parametrize(
    "change, cause", [("pixels", "decoded to other pixels"), ("images", "another image list")]
)
def test_another_eval_set_is_refused_naming_both_hashes(bundle, imported, tmp_path, change, cause):
    eval_path = other_eval_set(imported, tmp_path / "eval.safetensors", change)
    with pytest.raises(BundleError) as refusal:
        library_import(bundle, tmp_path, eval_path)
    message = str(refusal.value)
    ours = load_tensors(eval_path)[1]["data_sha256"]
    assert str(eval_path) in message and ours in message
    assert read_manifest(bundle)["eval_set"]["data_sha256"] in message and cause in message


def test_another_attack_is_refused_naming_the_setting(bundle, imported, tmp_path):
    config = read_manifest(bundle)["config"]
    config = {**config, "attack": {**config["attack"], "epsilon_255ths": 1}}
    with pytest.raises(BundleError, match=r"attack.epsilon_255ths is 40 in the bundle, 1 here"):
        library_import(bundle, tmp_path, imported / RUN / "data" / "eval.safetensors", config)


def test_a_newer_format_is_refused_naming_the_versions(bundle, tmp_path):
    from satsim.bundle.manifest import write_manifest

    copy = Path(shutil.copytree(bundle, tmp_path / "bundle"))
    manifest = read_manifest(copy)
    write_manifest(copy / MANIFEST, {**manifest, "format_version": 99})
    with pytest.raises(BundleError, match=r"format version 99 is newer than this satsim reads"):
        read_manifest(copy)


def test_an_import_stopped_midway_leaves_nothing_finished_and_resumes(bundle, imported, tmp_path):
    # Stop the import midway through staging: a file where it needs a folder (as a killed or
    # failed import would leave it: some files staged, none placed).
    clone = tmp_path / "clone"
    blocker = clone / RUN / ".bundle-import.partial" / RUN / "transfer_pairs"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")
    stopped = import_into(clone, bundle)
    assert stopped.returncode != 0
    staged = [p for p in (clone / RUN / ".bundle-import.partial").rglob("*") if p.is_file()]
    assert len(staged) > 10  # it stopped after staging some files
    assert not (clone / RUN / "bundle_import.json").exists()
    assert not (clone / RUN / "sat").exists() and not (clone / RUN / "clean").exists()

    blocker.unlink()
    resumed = import_into(clone, bundle)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert run_files(clone) == run_files(imported)
    assert not (clone / RUN / ".bundle-import.partial").exists()
    plan = snakemake(clone, "--configfile", str(bundle / "config.yaml"), "-n")
    assert NOTHING in plan.stdout + plan.stderr, planned_jobs(plan)


@pytest.mark.slow
def test_adding_a_model_to_an_imported_zoo_costs_its_own_jobs_and_2n_plus_1_pairs(
    bundle, imported, my_zoo_registry, four_model_scratch_run, tmp_path
):
    workdir = copy_run(imported, tmp_path / "added")
    add = models_override([*TINY, FOURTH], my_zoo_registry)
    run = snakemake(
        workdir,
        "--configfile",
        str(bundle / "config.yaml"),
        "--config",
        add,
        "--",
        str(RUN / "sat/sat.csv"),
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    jobs = planned_jobs(run)
    assert jobs["train_model"] == 1 and jobs["clean_predictions"] == 1 and jobs["attack"] == 1, jobs
    assert "prepare_digits" not in jobs, jobs
    statuses = pair_statuses(workdir / RUN, [*TINY, FOURTH])
    assert len(statuses["computed"]) == 2 * len(TINY) + 1 and len(statuses["reused"]) == 9
    assert all(FOURTH in pair for pair in statuses["computed"])
    scratch = four_model_scratch_run / RUN / "sat" / "sat.csv"
    assert (workdir / RUN / "sat" / "sat.csv").read_bytes() == scratch.read_bytes()


def test_the_bundle_config_is_the_run_config(bundle):
    bundled = yaml.safe_load((bundle / "config.yaml").read_text())
    assert bundled == read_manifest(bundle)["config"]
    assert bundled["run_name"] == "tiny" and bundled["models"]["include"] == TINY
    # The eval set's identity and what made it travel; its pixels do not.
    eval_set = read_manifest(bundle)["eval_set"]
    assert eval_set["versions"]["torch"] == torch.__version__ and len(eval_set["ids"]) == 96


def test_pretrained_weights_come_from_the_named_file_checked_by_hash(tmp_path):
    # A pretrained zoo's weights do not travel: the import reads them from the file the bundle
    # names (or fetches the tag) and compares the hash its run recorded.
    spec = load_registry(REPO / "configs" / "models" / "demo.yaml")["resnet10t"]
    state = build_model(spec, num_classes=1000).state_dict()
    source = tmp_path / "mine.safetensors"
    save_file({name: tensor.contiguous() for name, tensor in state.items()}, str(source))
    fetch = weights_fetcher({"resnet10t": spec.describe()}, {})
    entry = {"source": "file", "file": str(source), "file_sha256": sha256_file(source)}
    recorded = fetch("resnet10t", entry, tmp_path / "as_run.safetensors")

    staged = tmp_path / "staged" / "resnet10t.safetensors"
    assert stage_weights("resnet10t", {**entry, "weights_sha256": recorded}, staged, fetch)
    assert sha256_file(staged) == recorded
    staged.unlink()
    with pytest.raises(BundleError, match=rf"model resnet10t: the weights from {source} have"):
        stage_weights("resnet10t", {**entry, "weights_sha256": "0" * 64}, staged, fetch)
    assert not staged.exists()
