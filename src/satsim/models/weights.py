"""Model weights on disk: safetensors state dicts (never pickles) plus a JSON card.

The card (``<model>.json`` beside ``<model>.safetensors``) records the model spec, the sha256 of
the weights file and, for trained models, the test accuracy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from satsim.data.imagenet_layout import NUM_CLASSES as IMAGENET_CLASSES
from satsim.models.factory import build_model, canonical_model
from satsim.models.registry import ModelSpec
from satsim.models.wrapper import CanonicalModel
from satsim.workflow.atomic import atomic_path, read_json, sha256_file, write_json


def save_weights(model: torch.nn.Module, path: str | os.PathLike) -> str:
    """Atomically save the state dict as safetensors; returns the file's sha256."""
    from safetensors.torch import save_file

    state = {
        name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()
    }
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))
    return sha256_file(path)


def write_card(
    path: str | os.PathLike, spec: ModelSpec, weights_sha256: str, **fields: Any
) -> None:
    write_json(path, {"model": spec.describe(), "weights_sha256": weights_sha256, **fields})


def load_model(
    spec: ModelSpec,
    weights_path: str | os.PathLike,
    num_classes: int,
    card_path: str | os.PathLike | None = None,
) -> tuple[CanonicalModel, str]:
    """Build ``spec``, load its safetensors weights, wrap it for canonical images.

    Returns the wrapped model (eval mode) and the weights file's sha256. If a card is given, the
    file's hash must match the one recorded there.
    """
    weights_path = Path(weights_path)
    sha = sha256_file(weights_path)
    if card_path is not None:
        recorded = read_json(card_path).get("weights_sha256")
        if recorded != sha:
            raise ValueError(
                f"{weights_path} has sha256 {sha} but {card_path} records {recorded}: the weights "
                "file changed after it was made. Delete both and rerun to rebuild them."
            )
    model = build_model(spec, num_classes)
    try:
        model.load_state_dict(load_file(str(weights_path)), strict=True)
    except RuntimeError as error:
        raise ValueError(
            f"{weights_path} does not fit model {spec.name!r} ({spec.architecture}): {error}"
        ) from error
    return canonical_model(spec, model).eval(), sha


class WeightsError(RuntimeError):
    """Weights could not be fetched or imported; the message names the model and what to do."""


def _local_file_hint(spec: ModelSpec) -> str:
    return (
        f"or give a local file in the config: models.local_weights.{spec.name}: "
        "/path/to/weights.safetensors"
    )


def fetch_pretrained(spec: ModelSpec, path: str | os.PathLike) -> dict[str, Any]:
    """Download ``spec``'s pinned pretrained weights through timm (Hugging Face hub) and store
    them at ``path`` as safetensors.

    Honours ``HF_HUB_OFFLINE`` (then only the local Hugging Face cache is read). Returns what the
    card records about the source.
    """
    if spec.factory is not None:
        raise WeightsError(
            f"model {spec.name!r} is built by your own factory {spec.architecture!r}, so there "
            "are no pretrained weights to download: give its weights in the config, "
            f"models.local_weights.{spec.name}: /path/file.safetensors"
        )
    import timm
    from huggingface_hub import constants

    try:
        pretrained_cfg = timm.models.get_pretrained_cfg(spec.architecture)
    except RuntimeError:  # an unknown tag
        pretrained_cfg = None
    if pretrained_cfg is None or not (pretrained_cfg.hf_hub_id or pretrained_cfg.url):
        # timm would fall back to random weights with only a warning.
        raise WeightsError(
            f"model {spec.name!r}: timm {timm.__version__} has no pretrained weights for the tag "
            f"{spec.architecture!r}. Fix the tag in the registry, {_local_file_hint(spec)}"
        )
    try:
        model = build_model(spec, pretrained=True)
    except Exception as error:
        if "weights_only" in str(error):
            # torch refused a pickled checkpoint (nothing in it ran); its message, and the
            # chained traceback a failed job's log shows, advise weights_only=False: not passed on.
            raise WeightsError(_fetch_failure(spec, error, constants)) from None
        raise WeightsError(_fetch_failure(spec, error, constants)) from error
    sha = save_weights(model, path)
    source = pretrained_cfg.hf_hub_id or pretrained_cfg.url
    return {"source": "timm pretrained", "origin": source, "weights_sha256": sha}


def _fetch_failure(spec: ModelSpec, error: Exception, constants: Any) -> str:
    """Why ``spec``'s pretrained weights could not be fetched, and where they can come from
    (one line: a failed job shows the first line of its error first)."""
    tag = spec.architecture
    fetch = f"model {spec.name!r}: could not fetch the pretrained weights {tag!r}"
    # The command that fills the cache where the network is; HF_HOME names the cache it fills.
    download = (
        f'HF_HOME={constants.HF_HOME} python -c "import timm; '
        f"timm.create_model('{tag}', pretrained=True)\""
    )
    if "weights_only" in str(error):
        return (
            f"{fetch}: the checkpoint holds more than plain tensors (torch.load with "
            f"weights_only=True refused it: {_refusal_reason(error)}; nothing from it ran). "
            f"Use a tag whose weights are safetensors, {_local_file_hint(spec)}"
        )
    missing = isinstance(error, (FileNotFoundError, ConnectionError))  # not cached; offline
    if constants.HF_HUB_OFFLINE and missing:
        # Rerunning the same rule here cannot help: the files must come from elsewhere.
        return (
            f"{fetch} (HF_HUB_OFFLINE is set and they are not in the Hugging Face cache "
            f"{constants.HF_HUB_CACHE}). Download them on a machine with the network into a "
            f"cache this machine reads (a shared HF_HOME: {download}), then rerun here; "
            f"{_local_file_hint(spec)}"
        )
    if constants.HF_HUB_OFFLINE:
        return (
            f"{fetch} from the Hugging Face cache {constants.HF_HUB_CACHE} "
            f"({type(error).__name__}: {_first_line(error)}). Delete that model's folder there "
            f"and download it again where the network is ({download}); {_local_file_hint(spec)}"
        )
    return (
        f"{fetch} (the download failed: {type(error).__name__}: {_first_line(error)}). Check "
        "the network; where jobs have none (e.g. a cluster's compute nodes), run the weights "
        "jobs where it is (snakemake --until fetch_weights on the login node) or download them "
        f"there into a shared HF_HOME ({download}); {_local_file_hint(spec)}"
    )


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` file or a PyTorch checkpoint read with
    ``weights_only=True`` (never executes pickled code); unwraps ``state_dict``/``model`` and a
    ``module.`` (DataParallel) prefix."""
    path = Path(path)
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except Exception as error:  # safetensors' own error types, without the path
            raise WeightsError(
                f"{path}: not a readable safetensors file ({_first_line(error)}); check that it "
                "is the weights file itself (not a pickle renamed .safetensors) and complete"
            ) from error
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        # torch's own message advises weights_only=False, which would run code from the file:
        # neither it nor the chained traceback (which the failed job's log shows) is passed on.
        raise WeightsError(
            f"{path}: not a safetensors file or a PyTorch checkpoint of plain tensors (torch.load "
            f"with weights_only=True refused it: {_refusal_reason(error)}); convert it to "
            "safetensors where you trust its source"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: holds a {type(state).__name__}, not a state dict")
    return {name.removeprefix("module."): tensor for name, tensor in state.items()}


def _refusal_reason(error: BaseException) -> str:
    """What torch's safe unpickler refused (e.g. ``Unsupported global: GLOBAL x.Y``), without
    the advice around it."""
    found = re.search(r"Unsupported global: GLOBAL [\w.]+", str(error))
    return found.group(0) if found else type(error).__name__


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def state_dict_mismatch(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> str:
    """Load ``state`` into ``model``; an empty string if it fits exactly, else what differs."""
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shapes differ
        lines = [line.strip() for line in str(error).splitlines() if "size mismatch" in line]
        return lines[0] if lines else str(error).splitlines()[0]
    problems = []
    if result.missing_keys:
        problems.append(f"{len(result.missing_keys)} missing keys, e.g. {result.missing_keys[0]}")
    if result.unexpected_keys:
        problems.append(
            f"{len(result.unexpected_keys)} unexpected keys, e.g. {result.unexpected_keys[0]}"
        )
    return "; ".join(problems)


def import_local_weights(
    spec: ModelSpec,
    source: str | os.PathLike,
    path: str | os.PathLike,
    expected_sha256: str | None = None,
) -> dict[str, Any]:
    """Check a user-supplied weights file against ``spec`` and store it at ``path`` as
    safetensors. Returns what the card records about the source."""
    source = Path(source)
    if not source.is_file():
        raise WeightsError(f"models.local_weights.{spec.name} = {source}: no such file")
    source_sha = sha256_file(source)
    if expected_sha256 and source_sha != expected_sha256.lower():
        raise WeightsError(
            f"models.local_weights.{spec.name}: {source} has sha256 {source_sha}, but the config "
            f"expects {expected_sha256}. Use the intended file or update the sha256."
        )
    # ImageNet weights (local_weights is for pretrained runs): a factory may take num_classes
    # without a default.
    model = build_model(spec, num_classes=IMAGENET_CLASSES)
    mismatch = state_dict_mismatch(model, read_state_dict(source))
    if mismatch:
        expected = (
            f"a state dict of the model that {spec.architecture} builds"
            if spec.factory is not None
            else "a checkpoint of this architecture in timm's format"
        )
        raise WeightsError(
            f"models.local_weights.{spec.name}: {source} does not fit {spec.architecture} "
            f"({mismatch}). Is it {expected}?"
        )
    sha = save_weights(model, path)
    return {
        "source": "local file",
        "origin": str(source),
        "origin_sha256": source_sha,
        "weights_sha256": sha,
    }
