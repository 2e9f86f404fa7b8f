"""Snakemake adapter: train one demo model from scratch and save weights + card."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import torch

from satsim.compute.runtime import describe_numerics, make_deterministic
from satsim.models.factory import build_model, canonical_model
from satsim.models.predict import accuracy, predict_logits
from satsim.models.registry import ModelSpec
from satsim.models.training import TrainSettings, train_classifier
from satsim.models.weights import save_weights, write_card
from satsim.workflow.artifacts import ImageSet
from satsim.workflow.model_job import job_device
from satsim.workflow.provenance import library_versions
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic) as log:
    params = snakemake.params
    device = job_device(snakemake)
    train, evaluation = ImageSet(snakemake.input.train), ImageSet(snakemake.input.eval)
    spec = ModelSpec.from_description(params.spec)
    model = canonical_model(spec, build_model(spec, train.num_classes))
    settings = TrainSettings(**params.training)
    losses = train_classifier(
        model, train.images, train.labels, settings, params.seed, device=device, progress=log
    )
    logits = predict_logits(model, evaluation.images, device=device)
    test_accuracy = accuracy(logits, evaluation.labels)
    print(f"{spec.name}: test accuracy {test_accuracy:.4f}")
    sha = save_weights(model.model, snakemake.output.weights)
    write_card(
        snakemake.output.card,
        spec,
        sha,
        test_accuracy=test_accuracy,
        n_parameters=sum(p.numel() for p in model.parameters()),
        training={**settings.describe(), "seed": params.seed, "epoch_losses": losses},
        train_data_sha256=train.data_sha256,
        eval_data_sha256=evaluation.data_sha256,
        versions=library_versions(),
        device=str(device),
        numerics=describe_numerics(device, "none"),
        torch_threads=torch.get_num_threads(),
    )
