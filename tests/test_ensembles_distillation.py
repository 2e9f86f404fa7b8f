"""Ensembles from clean predictions, the distillation loss, the choice of teachers, and the
resumable training state, on small planted examples."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.special import softmax

from satsim.analysis.distillation import BASELINE, distillation_runs, pick_teachers, summarise
from satsim.analysis.ensembles import (
    ACROSS,
    GAINS,
    WITHIN,
    cluster_ensembles,
    ensemble_accuracy,
    gain_correlations,
    load_probabilities,
    pair_ensembles,
    partner_gains,
    spearman_with_ci,
)
from satsim.models.factory import build_model, canonical_model
from satsim.models.training import (
    DistillSettings,
    TrainSettings,
    distillation_loss,
    train_classifier,
)
from satsim.workflow.artifacts import save_tensors


def one_hot(predictions, confidence=5.0):
    logits = np.zeros((len(predictions), 4))
    logits[np.arange(len(predictions)), predictions] = confidence
    return softmax(logits, axis=1)


def test_ensembles_of_complementary_models_gain_and_of_clones_do_not():
    labels = np.arange(6) % 4
    # Model i is wrong exactly on images 2i and 2i+1: each is right on 4 of 6 images.
    models = []
    for i in range(3):
        wrong = np.isin(np.arange(6), [2 * i, 2 * i + 1])
        models.append(one_hot(np.where(wrong, (labels + 1) % 4, labels)))
    assert ensemble_accuracy([models[0]], labels) == pytest.approx(2 / 3)  # a fraction
    assert ensemble_accuracy([models[0], models[0]], labels) == pytest.approx(2 / 3)
    assert ensemble_accuracy(models, labels) == 1.0  # two of three are right on every image


def test_pair_table_partners_and_the_bootstrap_interval():
    rng = np.random.default_rng(0)
    names = [f"m{i}" for i in range(6)]
    probabilities = {name: softmax(rng.normal(size=(40, 4)), axis=1) for name in names}
    labels = rng.integers(0, 4, 40)
    sat = pd.DataFrame(rng.uniform(1, 4, (6, 6)), index=names, columns=names)
    sat = (sat + sat.T) / 2
    families = {name: "CNN" if i < 3 else "Transformer" for i, name in enumerate(names)}
    pairs = pair_ensembles(probabilities, labels, sat, families)
    assert len(pairs) == 15 and pairs["same_family"].sum() == 6
    accuracies = pairs[["accuracy_a", "accuracy_b", "ensemble_accuracy"]].to_numpy()
    assert ((accuracies >= 0) & (accuracies <= 1)).all()  # fractions, not percent
    assert np.allclose(
        pairs["gain_over_mean"] - pairs["gain_over_best"],
        (
            np.maximum(pairs["accuracy_a"], pairs["accuracy_b"])
            - (pairs["accuracy_a"] + pairs["accuracy_b"]) / 2
        ),
    )
    sample = pair_ensembles(probabilities, labels, sat, families, max_pairs=5, seed=1)
    assert len(sample) == 5
    stats = spearman_with_ci(pairs, "gain_over_mean", seed=0, n_boot=200)
    assert stats["ci_low"] <= stats["spearman"] <= stats["ci_high"]
    correlations = gain_correlations(pairs, seed=0, n_boot=200)
    assert len(correlations) == 3 * len(GAINS)
    first = correlations.iloc[0]
    assert (first["pairs"], first["gain"]) == ("all pairs", "gain_over_mean")
    assert first["spearman"] == stats["spearman"] and first["ci_low"] == stats["ci_low"]
    partners = partner_gains(pairs)
    assert len(partners) == 6
    assert (partners["sat_most_similar"] >= partners["sat_least_similar"]).all()
    clusters = pd.Series([0, 0, 0, 1, 1, 2], index=names)
    drawn = cluster_ensembles(probabilities, labels, clusters, [2, 3], samples=10, seed=0)
    for row in drawn.itertuples():
        members = row.members.split(", ")
        assert len(set(members)) == row.k
        clusters_of = set(clusters[members])
        assert len(clusters_of) == (1 if row.drawn == WITHIN else row.k)
    assert set(drawn["drawn"]) == {WITHIN, ACROSS}


def test_distillation_loss_reduces_to_its_parts():
    torch.manual_seed(0)
    student, teacher = torch.randn(6, 4), torch.randn(6, 4)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    only_labels = distillation_loss(student, teacher, labels, DistillSettings(alpha=0.0))
    assert torch.allclose(only_labels, torch.nn.functional.cross_entropy(student, labels))
    same = distillation_loss(student, student, labels, DistillSettings(alpha=1.0))
    assert same.abs() < 1e-6  # the student already matches the teacher
    hard = distillation_loss(student, teacher, labels, DistillSettings(alpha=1.0, hard=True))
    assert torch.allclose(hard, torch.nn.functional.cross_entropy(student, teacher.argmax(1)))


def test_teachers_span_the_sat_range_and_never_include_the_student():
    names = ["s", "a", "b", "c", "d", "e"]
    sat = pd.DataFrame(0.0, index=names, columns=names)
    sat.loc["s", ["a", "b", "c", "d", "e"]] = [1.0, 2.0, 3.0, 4.0, 5.0]
    plan = pick_teachers(sat, "s", 3)
    assert list(plan["teacher"]) == ["a", "c", "e"] and list(plan["sat"]) == [1.0, 3.0, 5.0]
    assert list(pick_teachers(sat, "s", 2, ["d"])["teacher"]) == ["d"]
    with pytest.raises(KeyError, match="not among the run's models"):
        pick_teachers(sat, "x", 3)


def test_summary_compares_each_teacher_with_the_same_seeds_without_one():
    runs = pd.DataFrame(
        {
            "student": ["s"] * 6,
            "teacher": ["t1", "t1", "t2", "t2", BASELINE, BASELINE],
            "seed": [1, 2, 1, 2, 1, 2],
            "accuracy": [0.90, 0.92, 0.85, 0.87, 0.88, 0.88],
            "sat": [3.0, 3.0, 1.0, 1.0, np.nan, np.nan],
        }
    )
    table = summarise(runs).set_index("teacher")
    assert table.loc["t1", "gain_mean"] == pytest.approx(0.03)  # 3 percentage points
    assert table.loc["t2", "gain_mean"] == pytest.approx(-0.02)
    assert table.loc["t1", "accuracy_min"] == 0.90 and table.loc["t1", "n_seeds"] == 2


def test_distillation_runs_take_the_plans_sat_and_refuse_percentages():
    plan = pd.DataFrame({"student": ["s"], "teacher": ["t"], "sat": [2.5]})
    result = {"student": "s", "seed": 1, "accuracy": 0.9, "n_eval_images": 10, "epoch_losses": []}
    runs = distillation_runs(plan, [{**result, "teacher": "t"}, {**result, "teacher": BASELINE}])
    assert list(runs["sat"][:1]) == [2.5] and runs["sat"][1:].isna().all()
    with pytest.raises(ValueError, match="not a fraction in"):
        distillation_runs(plan, [{**result, "teacher": "t", "accuracy": 90.0}])


def test_probabilities_are_read_without_torch_and_checked_against_the_labels(tmp_path):
    labels = torch.tensor([0, 1, 2])
    save_tensors(tmp_path / "eval.safetensors", {"labels": labels}, {"kind": "data"})
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    save_tensors(tmp_path / "a.safetensors", {"logits": logits}, {"kind": "clean"})
    save_tensors(tmp_path / "b.safetensors", {"logits": logits[:2]}, {"kind": "clean"})
    read, probabilities = load_probabilities(
        tmp_path / "eval.safetensors", {"a": tmp_path / "a.safetensors"}
    )
    assert read.tolist() == [0, 1, 2]
    assert np.allclose(probabilities["a"], softmax(logits.double().numpy(), axis=1))
    with pytest.raises(ValueError, match="for 3 eval images"):
        load_probabilities(tmp_path / "eval.safetensors", {"b": tmp_path / "b.safetensors"})


def test_training_resumes_from_its_checkpoint_to_the_same_weights(tmp_path, digits, small_cnn):
    """The library level of the resume guarantee (the Snakemake level is in test_workflow)."""
    from satsim.models.registry import ModelSpec

    spec = ModelSpec("tiny", "resnet10t", 32, (0.5,) * 3, (0.5,) * 3, {"channels": [8, 16, 32, 64]})
    *_, images, labels = digits
    images, labels = images[:256], labels[:256]
    settings = TrainSettings(epochs=3, batch_size=64, lr=2e-3, weight_decay=0.05)

    def student():
        torch.manual_seed(1)
        return canonical_model(spec, build_model(spec, 10))

    whole = student()
    train_classifier(whole, images, labels, settings, 1, teacher=small_cnn)
    checkpoint = tmp_path / "state.pt"
    interrupted = student()
    # Stop after epoch 2 of the 3-epoch schedule, as a killed job would.
    partial = train_classifier(
        interrupted,
        images,
        labels,
        settings,
        1,
        teacher=small_cnn,
        checkpoint=checkpoint,
        stop_after=2,
    )
    assert len(partial) == 2 and checkpoint.exists()
    resumed = student()  # a fresh process: new model, state from the file
    losses = train_classifier(
        resumed, images, labels, settings, 1, teacher=small_cnn, checkpoint=checkpoint
    )
    assert losses[:2] == partial
    for name, tensor in whole.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_a_checkpoint_from_other_settings_is_discarded_not_resumed(tmp_path, digits):
    """Issue 11: a job killed, its config changed (lr), then rerun must not resume the old
    state: the result equals a clean run with the new settings, and the log says why."""
    from satsim.models.registry import ModelSpec

    spec = ModelSpec("tiny", "resnet10t", 32, (0.5,) * 3, (0.5,) * 3, {"channels": [8, 16, 32, 64]})
    *_, images, labels = digits
    images, labels = images[:128], labels[:128]
    old = TrainSettings(epochs=2, batch_size=64, lr=2e-3, weight_decay=0.05)
    new = TrainSettings(epochs=2, batch_size=64, lr=1e-3, weight_decay=0.05)

    def student():
        torch.manual_seed(1)
        return canonical_model(spec, build_model(spec, 10))

    checkpoint = tmp_path / "state.pt"
    train_classifier(student(), images, labels, old, 1, checkpoint=checkpoint, stop_after=1)
    log = io.StringIO()
    rerun = student()
    losses = train_classifier(rerun, images, labels, new, 1, checkpoint=checkpoint, progress=log)
    clean = student()
    assert losses == train_classifier(clean, images, labels, new, 1)
    for name, tensor in clean.state_dict().items():
        assert torch.equal(tensor, rerun.state_dict()[name]), name
    assert (
        f"discarding {checkpoint}: made with other settings (training.lr: 0.002" in log.getvalue()
    )


def test_an_unreadable_checkpoint_is_discarded_with_a_line(tmp_path, digits):
    from satsim.models.registry import ModelSpec

    spec = ModelSpec("tiny", "resnet10t", 32, (0.5,) * 3, (0.5,) * 3, {"channels": [8, 16, 32, 64]})
    *_, images, labels = digits
    checkpoint = tmp_path / "state.pt"
    checkpoint.write_bytes(b"\x80\x04 not a checkpoint")
    settings = TrainSettings(epochs=1, batch_size=64, lr=2e-3, weight_decay=0.05)
    log = io.StringIO()
    model = canonical_model(spec, build_model(spec, 10))
    train_classifier(
        model, images[:64], labels[:64], settings, 1, checkpoint=checkpoint, progress=log
    )
    assert f"discarding {checkpoint}: unreadable (UnpicklingError)" in log.getvalue()
