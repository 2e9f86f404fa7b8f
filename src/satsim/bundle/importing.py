"""Import a bundle into a working directory: check it, rebuild the adversarial sets from the
user's own eval images, and place every file so that Snakemake sees the run as finished.

Everything is staged first (``results/<run>/.bundle-import.partial/``) and moved into place
only when all of it is checked: a killed import leaves no file in the run that looks finished,
and rerunning the import reuses what the killed one staged and verified.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from satsim.bundle import perturbations
from satsim.bundle.checks import check_config, check_eval_set, check_models
from satsim.bundle.export import BUNDLE_KEY
from satsim.bundle.manifest import BundleError, read_manifest
from satsim.workflow.artifacts import content_sha256, load_tensors
from satsim.workflow.atomic import sha256_file

STAGING = ".bundle-import.partial"

# Fetches or imports a pretrained model's weights to a path; returns their sha256.
WeightsFetcher = Callable[[str, Mapping[str, Any], Path], str]


def check_bundle_files(bundle: Path, manifest: Mapping[str, Any]) -> None:
    """Every file the manifest lists is there with its sha256 (a tampered byte names its file)."""
    for relative, entry in manifest["files"].items():
        path = bundle / relative
        if not path.is_file():
            raise BundleError(
                f"{path}: missing from the bundle; copy the whole bundle folder again"
            )
        if sha256_file(path) != entry["sha256"]:
            raise BundleError(
                f"{path}: its sha256 differs from the bundle's manifest (changed or damaged "
                "after export); copy the bundle again from its source"
            )


def import_bundle(
    *,
    bundle: Path,
    run_dir: Path,
    eval_path: Path,
    config: Mapping[str, Any],
    identities: Mapping[str, Mapping[str, Any]],
    fetch_weights: WeightsFetcher,
    progress: TextIO | None = None,
) -> dict[str, Any]:
    """Import ``bundle`` into the run folder ``run_dir`` (paths relative to the working
    directory, which the bundle's file paths are too). Returns a record of what was placed."""
    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    check_config(bundle, manifest["config"], config)
    eval_tensors, eval_record = load_tensors(eval_path)
    check_eval_set(bundle, manifest["eval_set"], eval_record, eval_tensors["ids"], eval_path)
    check_models(bundle, manifest["models"], identities)
    check_bundle_files(bundle, manifest)
    record = {
        "bundle": str(bundle.resolve()),
        "manifest_sha256": manifest["manifest_sha256"],
        "run_name": manifest["run_name"],
        "models": manifest["model_order"],
    }
    print(f"{bundle}: {len(manifest['files'])} files match the manifest", file=progress)

    staging = Path(run_dir) / STAGING
    placed: dict[str, str] = {}  # destination -> sha256
    for relative, entry in manifest["files"].items():
        if relative.startswith("files/"):
            destination = Path(relative.removeprefix("files/"))
            _stage_copy(bundle / relative, staging / destination, entry["sha256"])
            placed[destination.as_posix()] = entry["sha256"]
    for model, entry in manifest["models"].items():
        adversarial = Path(run_dir) / "adversarial" / f"{model}.safetensors"
        placed[adversarial.as_posix()] = _stage_adversarial(
            bundle / entry["perturbation"]["file"],
            entry["perturbation"],
            eval_tensors["images"],
            staging / adversarial,
            model,
        )
        weights = entry["weights"]
        if weights["source"] != "bundle":
            path = Path(run_dir) / "models" / f"{model}.safetensors"
            placed[path.as_posix()] = stage_weights(model, weights, staging / path, fetch_weights)
    print(f"staged {len(placed)} files in {staging}", file=progress)

    _refuse_overwrites(placed)
    for destination in placed:
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        if (staging / destination).exists():
            os.replace(staging / destination, target)
    # One time for every placed file, after the user's eval set (made before this job): no
    # output is older than its inputs, so Snakemake plans nothing for what was imported.
    stamp = time.time_ns()
    if Path(eval_path).stat().st_mtime_ns >= stamp:
        stamp = Path(eval_path).stat().st_mtime_ns + 1_000_000
    for destination in placed:
        os.utime(destination, ns=(stamp, stamp))
    shutil.rmtree(staging, ignore_errors=True)
    print(f"placed {len(placed)} files under {run_dir} and beside it", file=progress)
    return {**record, "files": len(placed)}


def _stage_copy(source: Path, staged: Path, sha256: str) -> None:
    """Copy ``source`` to ``staged`` unless an earlier, killed import staged it already."""
    if staged.is_file() and sha256_file(staged) == sha256:
        return
    staged.parent.mkdir(parents=True, exist_ok=True)
    partial = staged.with_name(f".{staged.name}.copy")
    shutil.copyfile(source, partial)
    if sha256_file(partial) != sha256:
        raise BundleError(f"{source}: changed while it was imported; copy the bundle again")
    os.replace(partial, staged)


def _stage_adversarial(
    source: Path,
    entry: Mapping[str, Any],
    eval_images: torch.Tensor,
    staged: Path,
    model: str,
) -> str:
    """Rebuild model's adversarial set from the eval images and the bundle's perturbation,
    checked against the content hash the exporter recorded; returns the file's sha256."""
    if staged.is_file() and _tensors_sha256(staged) == entry["adversarial_tensors_sha256"]:
        return sha256_file(staged)
    with safe_open(str(source), framework="pt") as handle:
        meta = json.loads((handle.metadata() or {})[BUNDLE_KEY])
        blob = handle.get_tensor("delta").numpy().tobytes()
        index = handle.get_tensor("index")
        fooled = handle.get_tensor("fooled")
    try:
        delta = perturbations.decode(blob, tuple(meta["shape"]), int(meta["epsilon"]))
        images = perturbations.apply(eval_images[index].numpy(), delta)
    except perturbations.PerturbationError as error:
        raise BundleError(f"{source}: model {model}: {error}") from None
    tensors = {"images": torch.from_numpy(images), "index": index, "fooled": fooled}
    if content_sha256(tensors) != entry["adversarial_tensors_sha256"]:
        raise BundleError(
            f"{source}: model {model}'s adversarial set, rebuilt from your eval images, differs "
            "from the exporter's (its content hash); the eval images differ from the bundle's"
        )
    staged.parent.mkdir(parents=True, exist_ok=True)
    partial = staged.with_name(f".{staged.name}.write")
    save_file(tensors, str(partial), metadata=meta["header"])
    os.replace(partial, staged)
    return sha256_file(staged)


def weights_fetcher(
    specs: Mapping[str, Mapping[str, Any]], local_weights: Mapping[str, Mapping[str, Any]]
) -> WeightsFetcher:
    """Fetch a bundled pretrained model's weights as its own run did: from the user's file
    (this config's models.local_weights, else the file the bundle names) or timm by tag."""
    from satsim.models.registry import ModelSpec
    from satsim.models.weights import fetch_pretrained, import_local_weights

    def fetch(model: str, weights: Mapping[str, Any], path: Path) -> str:
        spec = ModelSpec.from_description(dict(specs[model]))
        local = local_weights.get(model)
        if local or weights["source"] == "file":
            source = local["path"] if local else weights["file"]
            return import_local_weights(spec, source, path, weights.get("file_sha256"))[
                "weights_sha256"
            ]
        return fetch_pretrained(spec, path)["weights_sha256"]

    return fetch


def stage_weights(
    model: str, weights: Mapping[str, Any], staged: Path, fetch: WeightsFetcher
) -> str:
    """A pretrained model's weights, fetched by tag or from the user's file, checked by hash."""
    if not (staged.is_file() and sha256_file(staged) == weights["weights_sha256"]):
        staged.parent.mkdir(parents=True, exist_ok=True)
        sha = fetch(model, weights, staged)
        if sha != weights["weights_sha256"]:
            where = weights.get("file") or f"timm's tag {weights.get('architecture')}"
            staged.unlink(missing_ok=True)
            raise BundleError(
                f"model {model}: the weights from {where} have sha256 {sha}, the bundle's "
                f"{weights['weights_sha256']}; its results were computed from other weights "
                "(another timm version or file): use the bundle's, or rerun that model"
            )
    return weights["weights_sha256"]


def _tensors_sha256(path: Path) -> str | None:
    try:
        tensors, _ = load_tensors(path)
    except ValueError:
        return None
    return content_sha256(tensors)


def _refuse_overwrites(placed: Mapping[str, str]) -> None:
    """Refuse to replace a file of the user's that differs from the bundle's: an import goes
    into a fresh run folder (or completes an earlier import of the same bundle, whose files
    are the bundle's)."""
    for destination, sha256 in placed.items():
        target = Path(destination)
        if target.is_file() and sha256_file(target) != sha256:
            raise BundleError(
                f"{target}: exists and differs from the bundle's copy; import into a fresh run "
                "folder (another run_name or working directory), or move the file away"
            )
