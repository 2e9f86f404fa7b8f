"""The paper run's own path, offline: the real ImageNet rule on generated JPEGs in both layouts,
the real weights rule on locally saved weights of 3 registry architectures (random init), then
the whole DAG at full resolution through the real ``snakemake``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from fake_imagenet import SUBSET, make_fake_imagenet, make_fake_train, write_label_file
from model_helpers import PAPER
from safetensors.torch import save_file
from synthetic_sat import planted_sat, write_release_csv
from workflow_helpers import REPO, planned_jobs, snakemake

from satsim.data.imagenet import read_subset, train_classes
from satsim.models.factory import build_model
from satsim.workflow.artifacts import ImageSet, read_provenance
from satsim.workflow.atomic import read_json, sha256_file

# Three families, three input pipelines: 224 px / crop 0.875, 256 px / crop 0.875, 224 px / 0.9.
MODELS = ["rexnet_150", "efficientnet_b2", "deit_small_patch16_224"]
N_IMAGES = 4
TRAIN_CLASSES = 2
FIRST_CLASS = train_classes(TRAIN_CLASSES, seed=0)[0]  # the first image's class (eval_subset)


def random_weights(name: str, path: Path) -> Path:
    """Random init, with the head biased towards the first evaluation image's class, so that each
    model classifies at least one image correctly and has something to attack."""
    torch.manual_seed(0)
    model = build_model(PAPER[name])
    with torch.no_grad():
        model.get_classifier().bias[FIRST_CLASS] += 2.0
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def eval_subset(workdir: Path) -> Path:
    """An evaluation list (the committed list's format) of images of the classes that the
    distillation training subset draws, so that the students have something to be tested on."""
    classes = set(train_classes(TRAIN_CLASSES, seed=0))
    rows = [e for e in read_subset(SUBSET, 5000) if e.label in classes][: N_IMAGES + 2]
    path = workdir / "subset.csv"
    path.write_text("image,wnid\n" + "".join(f"{e.image},{e.wnid}\n" for e in rows))
    return path


def paper_config(workdir: Path, run_name: str, imagenet: Path, **data) -> Path:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.update(run_name=run_name, figures_dir=f"results/{run_name}/figures")
    config["data"].update(imagenet_val=str(imagenet), eval_size=N_IMAGES, **data)
    config["data"]["imagenet_subset"] = str(workdir / "subset.csv")
    weights = workdir / "weights"
    weights.mkdir(exist_ok=True)
    local = {}
    for name in MODELS:
        path = weights / f"{name}.safetensors"
        if not path.exists():
            random_weights(name, path)
        local[name] = {"path": str(path), "sha256": sha256_file(path)}
    config["models"].update(include=MODELS, local_weights=local)
    config["attack"].update(epsilon_255ths=8, step_size_255ths=4, steps=2, batch_size=4)
    config["analysis"].update(n_clusters=2, tsne_perplexity=1)
    config["compute"].update(device="cpu", batch_size=8)
    config["ensembles"].update(bootstrap=50, k=[2], k_samples=5)
    # Input gradients of at most the eval set (a larger count is refused before any job).
    config.setdefault("similarity", {})["gradient_images"] = N_IMAGES
    # The comparison with the authors' matrix, against a stand-in in its format (no network).
    released = planted_sat(MODELS, {m: PAPER[m].components for m in MODELS}, {"Stem layer": 1.0})
    config["sat"]["released_matrix"] = str(write_release_csv(released, workdir / "release.csv"))
    config["distillation"].update(
        students=["rexnet_150"],
        teachers=1,
        seeds=[1],
        train_classes=TRAIN_CLASSES,
        train_images_per_class=2,
    )
    config["distillation"]["training"].update(epochs=1, batch_size=4)
    path = workdir / f"{run_name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("paper")
    imagenet = workdir / "imagenet" / "val"
    make_fake_imagenet(imagenet, N_IMAGES, "synset_folders", subset_list=eval_subset(workdir))
    train = workdir / "imagenet" / "train"
    make_fake_train(train, TRAIN_CLASSES, 2, seed=0, layout="synset_folders")
    config = paper_config(workdir, "mini", imagenet, imagenet_train=str(train))
    run = snakemake(workdir, "--configfile", str(config))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir


@pytest.mark.slow
def test_whole_paper_dag_runs_offline_on_local_weights_and_fake_imagenet(paper_run):
    out = paper_run / "results" / "mini"
    data = ImageSet(out / "data" / "eval.safetensors")
    assert data.images.shape == (N_IMAGES, 3, 256, 256) and data.images.dtype == torch.uint8
    assert data.record["layout"] == "synset_folders" and data.num_classes == 1000
    for name in MODELS:
        card = read_json(out / "models" / f"{name}.json")
        assert (
            card["source"] == "local file"
            and card["model"]["architecture"] == PAPER[name].architecture
        )
        assert card["weights_sha256"] == sha256_file(out / "models" / f"{name}.safetensors")
        record = read_provenance(out / "adversarial" / f"{name}.safetensors")
        assert record["n_attacked"] >= 1 and record["precision"] == "none"
    sat = pd.read_csv(out / "sat" / "sat.csv", index_col=0)
    assert list(sat.index) == MODELS and np.isfinite(sat.to_numpy()).all()
    report = pd.read_csv(out / "reports" / "clean_accuracy.csv")
    assert list(report["model"]) == MODELS
    published = [PAPER[name].top1 / 100 for name in MODELS]  # the registry's top1 is in percent
    assert list(report["published_top1"]) == pytest.approx(published)
    assert report["flag"].all()  # random weights are far below timm's top-1: flagged
    assert "FLAG rexnet_150" in (out / "logs" / "accuracy_report.log").read_text()
    for n in range(1, 7):
        assert (out / "figures" / f"fig{n}.pdf").stat().st_size > 1000
    train = ImageSet(out / "data" / "train_subset.safetensors")
    assert train.images.shape == (4, 3, 256, 256) and train.record["dataset"] == "ILSVRC2012-train"
    assert len(pd.read_csv(out / "analysis" / "distillation_runs.csv")) == 2  # teacher + none
    comparison = pd.read_csv(out / "analysis" / "released_comparison.csv")
    assert comparison["n_models"].item() == len(MODELS)
    assert not list(out.rglob("*.partial")) and not list(out.rglob("*.tmp*"))


@pytest.mark.slow
def test_a_new_seed_or_batch_size_refetches_no_weights_and_redoes_no_clean_prediction(paper_run):
    config = str(paper_run / "mini.yaml")
    same = snakemake(paper_run, "--configfile", config, "--config", "compute={batch_size: 3}", "-n")
    assert "Nothing to be done" in same.stdout + same.stderr
    plan = planned_jobs(snakemake(paper_run, "--configfile", config, "--config", "seed=1", "-n"))
    # The seed draws the attacks' random starts (and the distillation subset, planned only once
    # the distillation checkpoint has rerun); weights, the evaluation images and clean
    # predictions do not depend on it.
    assert plan["attack"] == len(MODELS), plan
    assert not {"fetch_weights", "prepare_imagenet", "clean_predictions"} & set(plan), plan


@pytest.mark.slow
def test_flat_layout_with_label_file_gives_the_same_eval_set(paper_run):
    imagenet = paper_run / "imagenet" / "flat"
    subset = make_fake_imagenet(imagenet, N_IMAGES, "flat", subset_list=paper_run / "subset.csv")
    labels = write_label_file(paper_run / "LOC_val_solution.csv", subset, "loc")
    config = paper_config(paper_run, "flat", imagenet, imagenet_labels=str(labels))
    run = snakemake(paper_run, "--configfile", str(config), "--until", "prepare_imagenet")
    assert run.returncode == 0, run.stderr[-3000:]
    flat = ImageSet(paper_run / "results" / "flat" / "data" / "eval.safetensors")
    folders = ImageSet(paper_run / "results" / "mini" / "data" / "eval.safetensors")
    assert flat.record["layout"] == "flat"
    assert flat.data_sha256 == folders.data_sha256
    assert torch.equal(flat.images, folders.images) and torch.equal(flat.ids, folders.ids)


@pytest.mark.slow
def test_a_label_file_that_disagrees_stops_the_rule_and_leaves_nothing(paper_run):
    imagenet = paper_run / "imagenet" / "flat2"
    subset = make_fake_imagenet(imagenet, N_IMAGES, "flat", subset_list=paper_run / "subset.csv")
    wrong = [type(e)(e.image, subset[0].wnid, 0) for e in subset]
    labels = write_label_file(paper_run / "wrong.txt", wrong, "wnid")
    config = paper_config(paper_run, "wrong", imagenet, imagenet_labels=str(labels))
    run = snakemake(paper_run, "--configfile", str(config), "--until", "prepare_imagenet")
    assert run.returncode != 0
    assert "disagrees with" in run.stdout + run.stderr
    assert not (paper_run / "results" / "wrong" / "data").exists() or not list(
        (paper_run / "results" / "wrong" / "data").iterdir()
    )
