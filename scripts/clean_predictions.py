"""Snakemake adapter: one model's logits on the clean eval images."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # works under --use-conda too

from satsim.artifacts import ImageSet, save_tensors
from satsim.predict import accuracy, predict_logits
from satsim.provenance import make_record
from satsim.registry import ModelSpec
from satsim.runtime import select_device
from satsim.scripting import script_session
from satsim.weights import load_model

with script_session(snakemake) as log:
    params = snakemake.params
    device = select_device(params.device)
    data = ImageSet(snakemake.input.eval)
    spec = ModelSpec.from_description(params.spec)
    model, sha = load_model(spec, snakemake.input.weights, data.num_classes, snakemake.input.card)
    logits = predict_logits(model, data.images, params.batch_size, device, progress=log)
    clean_accuracy = accuracy(logits, data.labels)
    print(f"{spec.name}: clean accuracy {clean_accuracy:.4f}")
    record = make_record(
        kind="clean_predictions",
        model=spec.name,
        weights_sha256=sha,
        data_sha256=data.data_sha256,
        accuracy=clean_accuracy,
    )
    save_tensors(snakemake.output[0], {"logits": logits, "pred": logits.argmax(dim=1)}, record)
