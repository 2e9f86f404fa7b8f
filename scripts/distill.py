"""Snakemake adapter: train one student from scratch, with a teacher (distillation) or without
(teacher "none", the baseline), and evaluate it. A killed job resumes from its last epoch."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

import torch

from satsim.compute.runtime import describe_numerics, make_deterministic, with_precision
from satsim.models.factory import build_model, canonical_model
from satsim.models.registry import ModelSpec
from satsim.models.training import (
    DistillSettings,
    TrainSettings,
    evaluate_on_trained_classes,
    train_classifier,
)
from satsim.models.weights import load_model
from satsim.workflow.artifacts import ImageSet, sha256_tensors
from satsim.workflow.atomic import write_json
from satsim.workflow.model_job import job_device
from satsim.workflow.provenance import library_versions
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic) as log:
    params, inputs, wildcards = snakemake.params, snakemake.input, snakemake.wildcards
    device = job_device(snakemake)
    train, evaluation = ImageSet(inputs.train), ImageSet(inputs.eval)
    seed = int(wildcards.seed)

    teacher, teacher_sha = None, None
    if params.teacher_spec is not None:
        teacher_spec = ModelSpec.from_description(params.teacher_spec)
        teacher, teacher_sha = load_model(
            teacher_spec, inputs.weights, train.num_classes, inputs.card
        )
    spec = ModelSpec.from_description(params.student_spec)
    torch.manual_seed(seed)  # the same initial student for every teacher
    student = canonical_model(spec, build_model(spec, train.num_classes))
    settings = TrainSettings(**params.training)
    distill = DistillSettings(**params.distill)
    Path(params.checkpoint).parent.mkdir(parents=True, exist_ok=True)
    losses = train_classifier(
        student,
        train.images,
        train.labels,
        settings,
        seed,
        device=device,
        progress=log,
        teacher=teacher,
        distill=distill,
        checkpoint=params.checkpoint,
        autocast=params.autocast,
        # A checkpoint from another student, teacher or training set is not resumed.
        checkpoint_key={
            "student": params.student_spec,
            "teacher_weights_sha256": teacher_sha,
            "train_data_sha256": train.data_sha256,
            "numerics": describe_numerics(device, params.autocast),
        },
    )

    student_accuracy, n_eval_images = evaluate_on_trained_classes(
        with_precision(student, params.autocast, device), train.labels, evaluation, device
    )
    print(
        f"{wildcards.student} taught by {wildcards.teacher}, seed {seed}: accuracy "
        f"{student_accuracy:.4f} on {n_eval_images} images"
    )
    write_json(
        snakemake.output[0],
        {
            "student": wildcards.student,
            "teacher": wildcards.teacher,
            "seed": seed,
            "accuracy": student_accuracy,
            "n_eval_images": n_eval_images,
            "epoch_losses": losses,
            "student_weights_sha256": sha256_tensors(*student.model.state_dict().values()),
            "training": settings.describe(),
            "distillation": distill.describe() if teacher is not None else None,
            "train_data_sha256": train.data_sha256,
            "eval_data_sha256": evaluation.data_sha256,
            "versions": library_versions(),
            "numerics": describe_numerics(device, params.autocast),
        },
    )
    Path(params.checkpoint).unlink(missing_ok=True)  # finished: the resume state is spent
