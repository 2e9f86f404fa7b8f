"""Export a finished computed run as a bundle: every file its jobs wrote except eval-set pixels
(adversarial sets travel as perturbations) and downloadable weights, with a sealed manifest.

Layout of ``results/<run>/bundle/``::

    manifest.json           what the bundle holds and every file's sha256 (satsim.bundle.manifest)
    config.yaml             the run's config: import with --configfile <bundle>/config.yaml
    files/<path>            the run's files, by their path in the working directory
    perturbations/<m>.safetensors   model m's adversarial set as adversarial - clean
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

import torch
import yaml
from safetensors import safe_open
from safetensors.torch import save_file

import satsim
from satsim.bundle import perturbations
from satsim.bundle.manifest import (
    FORMAT,
    FORMAT_VERSION,
    IMPORT_RECORD,
    MANIFEST,
    BundleError,
    write_manifest,
)
from satsim.workflow.artifacts import CONTENT_KEY, load_tensors
from satsim.workflow.atomic import partial_dir, read_json, sha256_file

# Folders of a run that a bundle leaves out: machine-specific logs, the eval pixels (the
# importer makes its own), adversarial sets (carried as perturbations) and bundles themselves.
LEFT_OUT = ("logs", "data", "adversarial", "bundle")
BUNDLE_KEY = "satsim_bundle"  # a perturbation file's header record


def decoder_versions() -> dict[str, str | None]:
    """Pillow and its libjpeg-turbo: ImageNet's canonical pixels depend on both."""
    try:
        from PIL import __version__ as pillow
        from PIL import features

        turbo = features.version("libjpeg_turbo")
    except ImportError:
        pillow, turbo = None, None
    return {"pillow": pillow, "libjpeg_turbo": turbo}


def run_files(run_dir: Path, weights_travel: bool) -> list[Path]:
    """The run's files a bundle carries, sorted: all but :data:`LEFT_OUT`, hidden staging
    folders, the import record and (unless ``weights_travel``) the weights under models/."""
    chosen = []
    for path in sorted(run_dir.rglob("*")):
        parts = path.relative_to(run_dir).parts
        if not path.is_file() or parts[0] in LEFT_OUT or any(p.startswith(".") for p in parts):
            continue
        if parts == (IMPORT_RECORD,):
            continue
        if parts[0] == "models" and path.suffix == ".safetensors" and not weights_travel:
            continue
        chosen.append(path)
    return chosen


def weights_origin(
    model: str, card: Mapping[str, Any], weights_mode: str, local: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Where an importer gets model's weights: the bundle (trained by the workflow), timm by
    tag, or the user's own file; always checked against the card's sha256."""
    if weights_mode == "train":
        return {"source": "bundle", "weights_sha256": card["weights_sha256"]}
    if local:
        return {
            "source": "file",
            "file": str(local["path"]),
            "file_sha256": card.get("origin_sha256"),
            "weights_sha256": card["weights_sha256"],
        }
    return {
        "source": "tag",
        "architecture": card["model"]["architecture"],
        "weights_sha256": card["weights_sha256"],
    }


def encode_adversarial(
    adversarial_path: Path, clean_images: torch.Tensor, epsilon: int, destination: Path
) -> dict[str, Any]:
    """Write an adversarial set as its perturbation (with its index, fooled flags and the
    original header, so the importer rebuilds the same file); returns the manifest entry."""
    tensors, record = load_tensors(adversarial_path)
    with safe_open(str(adversarial_path), framework="pt") as handle:
        header = handle.metadata() or {}
    index = tensors["index"]
    delta = perturbations.perturbation(
        tensors["images"].numpy(), clean_images[index].numpy(), epsilon
    )
    blob = perturbations.encode(delta, epsilon)
    meta = {
        "encoding": perturbations.ENCODING,
        "epsilon": epsilon,
        "shape": list(delta.shape),
        "header": header,
    }
    destination.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            "delta": torch.frombuffer(bytearray(blob), dtype=torch.uint8),
            "index": index.contiguous(),
            "fooled": tensors["fooled"].contiguous(),
        },
        str(destination),
        metadata={BUNDLE_KEY: json.dumps(meta, sort_keys=True)},
    )
    return {
        "encoding": perturbations.ENCODING,
        "epsilon": epsilon,
        "shape": list(delta.shape),
        "adversarial_sha256": sha256_file(adversarial_path),
        "adversarial_tensors_sha256": record[CONTENT_KEY],
        "adversarial_bytes": adversarial_path.stat().st_size,
        "attack": record.get("attack"),
        "precision": record.get("precision"),
        "numerics": record.get("numerics"),
    }


def export_run(
    *,
    run_dir: Path,
    extra_files: Iterable[Path],
    bundle_dir: Path,
    eval_path: Path,
    config: Mapping[str, Any],
    identities: Mapping[str, Mapping[str, Any]],
    local_weights: Mapping[str, Mapping[str, Any]],
    threads: int = 1,
    progress: TextIO | None = None,
) -> dict[str, Any]:
    """Write the bundle of the finished run in ``run_dir`` to ``bundle_dir`` (staged beside it
    and renamed when complete). Paths are relative to the working directory; ``extra_files``
    are outputs outside ``run_dir`` (the figures of a run whose figures_dir lies elsewhere)."""
    run_dir, bundle_dir = Path(run_dir), Path(bundle_dir)
    weights_mode = config["models"]["weights"]
    epsilon = int(config["attack"]["epsilon_255ths"])
    staging = partial_dir(bundle_dir)
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "files").mkdir(parents=True)

    outside = [Path(p) for p in extra_files if not Path(p).is_relative_to(run_dir)]
    for path in outside:
        if path.is_absolute() or ".." in path.parts:
            raise BundleError(
                f"{path}: lies outside the working directory, so a bundle cannot say where it "
                "goes; set figures_dir to a folder inside it (e.g. paper_figures) and rerun"
            )
    files: dict[str, dict[str, Any]] = {}
    for path in [*run_files(run_dir, weights_mode == "train"), *sorted(outside)]:
        target = staging / "files" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        files[f"files/{path.as_posix()}"] = _file_entry(target)
    print(f"{len(files)} files of {run_dir} copied", file=progress)

    eval_tensors, eval_record = load_tensors(eval_path)

    def encode(model: str) -> dict[str, Any]:
        return encode_adversarial(
            run_dir / "adversarial" / f"{model}.safetensors",
            eval_tensors["images"],
            epsilon,
            staging / f"perturbations/{model}.safetensors",
        )

    # LZMA releases the GIL: models encode in parallel threads (13 MB/s each at 1/255).
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        encoded = dict(zip(identities, pool.map(encode, identities), strict=True))
    models: dict[str, Any] = {}
    for model, identity in identities.items():
        card = read_json(run_dir / "models" / f"{model}.json")
        relative = f"perturbations/{model}.safetensors"
        files[relative] = _file_entry(staging / relative)
        models[model] = {
            "identity": dict(identity),
            "weights": weights_origin(model, card, weights_mode, local_weights.get(model)),
            "perturbation": {"file": relative, **encoded[model]},
        }
        print(
            f"{model}: adversarial set {encoded[model]['adversarial_bytes']:,} bytes -> "
            f"perturbation {files[relative]['bytes']:,} bytes",
            file=progress,
        )

    config_text = yaml.safe_dump(json.loads(json.dumps(config)), sort_keys=False)
    (staging / "config.yaml").write_text(config_text)
    files["config.yaml"] = _file_entry(staging / "config.yaml")
    first = next(iter(models.values()))["perturbation"] if models else {}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "satsim_version": satsim.__version__,
        "run_name": config["run_name"],
        "run_dir": run_dir.as_posix(),
        "config": json.loads(json.dumps(config)),
        "models": models,
        "model_order": list(models),  # the run's order (the manifest's keys are sorted)
        "eval_set": {
            "data_sha256": eval_record["data_sha256"],
            "n_images": int(len(eval_tensors["ids"])),
            "ids": [int(i) for i in eval_tensors["ids"].tolist()],
            "record": {k: v for k, v in eval_record.items() if k != "versions"},
            "versions": eval_record.get("versions"),
            "decoder": decoder_versions(),
            "scikit_learn": package_version("scikit-learn"),
        },
        "attack": first.get("attack"),
        "precision": first.get("precision"),
        "numerics": first.get("numerics"),
        "files": files,
    }
    sealed = write_manifest(staging / MANIFEST, manifest)
    if bundle_dir.exists():
        shutil.rmtree(bundle_dir)
    staging.rename(bundle_dir)
    return sealed


def _file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def bundle_sizes(manifest: Mapping[str, Any]) -> dict[str, int]:
    """Bytes per part of a bundle (from its manifest): perturbations, the rest, and what the
    adversarial sets weigh as images."""
    files = manifest["files"]
    perturbation_bytes = sum(v["bytes"] for k, v in files.items() if k.startswith("perturbations/"))
    return {
        "total": sum(v["bytes"] for v in files.values()),
        "perturbations": perturbation_bytes,
        "other": sum(v["bytes"] for v in files.values()) - perturbation_bytes,
        "adversarial_as_images": sum(
            m["perturbation"]["adversarial_bytes"] for m in manifest["models"].values()
        ),
    }
