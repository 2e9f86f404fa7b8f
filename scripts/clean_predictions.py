"""Snakemake adapter: one model's logits on the clean eval images, and its penultimate
features (float16, for CKA) from the same forward pass."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.compute.runtime import make_deterministic
from satsim.models.predict import accuracy
from satsim.similarity.representations import logits_and_features
from satsim.workflow.artifacts import save_tensors
from satsim.workflow.model_job import execution_settings, load_model_job
from satsim.workflow.scripting import script_session

with script_session(snakemake, seed_torch=make_deterministic) as log:
    params = snakemake.params
    job = load_model_job(snakemake)
    device, data, spec, model, sha = (job.device, job.data, job.spec, job.model, job.weights_sha256)
    logits, features = logits_and_features(
        model, data.images, execution_settings(snakemake).batch_size, device, progress=log
    )
    clean_accuracy = accuracy(logits, data.labels)
    print(f"{spec.name}: clean accuracy {clean_accuracy:.4f}")
    record = job.record("clean_predictions", accuracy=clean_accuracy)
    save_tensors(snakemake.output.clean, {"logits": logits, "pred": logits.argmax(dim=1)}, record)
    save_tensors(snakemake.output.features, {"features": features}, job.record("features"))
