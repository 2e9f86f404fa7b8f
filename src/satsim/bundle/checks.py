"""What must agree between a bundle and the run it is imported into: the config, the eval set
(its data sha256, hence the image list and the decoder) and each model's definition."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from satsim.bundle.export import decoder_versions, package_version
from satsim.bundle.manifest import BundleError

# Settings that may differ on the importing machine: where things are, and how jobs run there
# (none of them changes a number; attack.batch_size does for advertorch, see ``_may_differ``).
LOCAL_KEYS = (
    "bundle",
    "compute",
    "data.imagenet_val",
    "data.imagenet_train",
    "data.imagenet_labels",
    "models.registry",
    "models.local_weights",
    "figures_dir",
)


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _may_differ(key: str, config: Mapping[str, Any]) -> bool:
    if key == "attack.batch_size":
        return config.get("attack", {}).get("backend") != "advertorch"
    return any(key == local or key.startswith(f"{local}.") for local in LOCAL_KEYS)


def config_differences(
    bundle_config: Mapping[str, Any], config: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """(key, bundle's value, this config's value) for every setting that would make the
    imported results another run's."""
    theirs, ours = _flatten(bundle_config), _flatten(config)
    return [
        (key, theirs.get(key), ours.get(key))
        for key in sorted(set(theirs) | set(ours))
        if theirs.get(key) != ours.get(key) and not _may_differ(key, config)
    ]


def check_config(bundle: Path, bundle_config: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    differences = config_differences(bundle_config, config)
    if differences:
        listed = "; ".join(
            f"{key} is {theirs!r} in the bundle, {ours!r} here"
            for key, theirs, ours in differences[:5]
        )
        more = f" (and {len(differences) - 5} more)" if len(differences) > 5 else ""
        raise BundleError(
            f"{bundle}: made with another config: {listed}{more}. Import with the bundle's own "
            f"config (--configfile {Path(bundle) / 'config.yaml'}), then add models or change "
            "settings in a run of its own"
        )


def check_eval_set(
    bundle: Path,
    expected: Mapping[str, Any],
    record: Mapping[str, Any],
    ids: torch.Tensor,
    eval_path: Path,
) -> None:
    """The user's eval set must be the bundle's, pixel for pixel (its data sha256)."""
    ours, theirs = record.get("data_sha256"), expected["data_sha256"]
    if ours == theirs:
        return
    our_ids = [int(i) for i in ids.tolist()]
    if our_ids != expected["ids"]:
        cause = (
            f"another image list: {len(our_ids)} images here, {len(expected['ids'])} in the "
            "bundle, or the same in another order; use the bundle's data settings "
            "(data.eval_size, data.imagenet_subset, seed)"
        )
    else:
        cause = "the same images decoded to other pixels" + _decoder_hint(expected, record)
    raise BundleError(
        f"{eval_path}: your eval set has data sha256 {ours}, bundle {bundle}'s {theirs}: {cause}"
    )


def _decoder_hint(expected: Mapping[str, Any], record: Mapping[str, Any]) -> str:
    """Which decoder versions differ, and what to install (ImageNet: Pillow and libjpeg-turbo;
    the demo's digits: scikit-learn, which ships them)."""
    if record.get("dataset") == "sklearn-digits":
        here, there = package_version("scikit-learn"), expected.get("scikit_learn")
        if here != there:
            return (
                f": scikit-learn {here} here, {there} in the bundle; "
                f"pip install scikit-learn=={there}"
            )
        return ": another canonical_size or digits resizing; use the bundle's config"
    here, there = decoder_versions(), expected.get("decoder") or {}
    differing = [
        f"{name} {here.get(name)} here, {there.get(name)} in the bundle"
        for name in ("pillow", "libjpeg_turbo")
        if here.get(name) != there.get(name)
    ]
    if not differing:
        return (
            ": Pillow and libjpeg-turbo are the bundle's versions, so the image files "
            "themselves differ (another copy of ILSVRC2012 val?)"
        )
    return (
        f" (the canonical pixels depend on the JPEG decoder): {', '.join(differing)}; install "
        f"the bundle's: pip install Pillow=={there.get('pillow')} (its wheels bundle "
        "libjpeg-turbo), then delete the eval set and rerun the import"
    )


def check_models(
    bundle: Path,
    models: Mapping[str, Mapping[str, Any]],
    identities: Mapping[str, Mapping[str, Any]],
) -> None:
    """Each bundled model is defined here as it was in the exporting run."""
    for model, entry in models.items():
        if model not in identities:
            raise BundleError(
                f"{bundle}: model {model} is in the bundle but not in this run's models; import "
                f"with the bundle's config (--configfile {Path(bundle) / 'config.yaml'})"
            )
        theirs, ours = entry["identity"], dict(identities[model])
        if theirs != ours:
            keys = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            raise BundleError(
                f"{bundle}: model {model} is defined differently here ({', '.join(keys)} differ "
                "from the bundle's); use the registry the bundle was made with"
            )
