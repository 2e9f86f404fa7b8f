"""Model registries: one YAML file names each model of a run, how to build it, and its 13
architectural components.

Format (``configs/models/*.yaml``)::

    models:
      <name>:
        architecture: resnet18        # timm model name (optionally name.tag for pretrained)
        kwargs: {channels: [16, 32, 64, 128]}   # passed to timm.create_model
        input_size: 32                # native resolution, pixels
        mean: [0.5, 0.5, 0.5]         # normalisation in [0, 1] units
        std: [0.5, 0.5, 0.5]
        components: {Base architecture: CNN, ...}   # the 13 columns of satsim.components
        # pretrained models also: crop_pct, interpolation (timm's eval transform of the tag),
        # top1 (timm's published ImageNet top-1, %), tag_reason (why this tag; documentation)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from satsim.components import COMPONENT_COLUMNS, validate_components

# timm, torch and pandas are imported inside the methods that need them, so that the Snakefile
# can read a registry where only Snakemake is installed.

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model of a run."""

    name: str
    architecture: str
    input_size: int
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    kwargs: dict[str, Any] = field(default_factory=dict)
    components: dict[str, str] = field(default_factory=dict)
    # Pretrained models only: timm's eval transform of the pinned tag, and its published top-1 (%).
    crop_pct: float | None = None
    interpolation: str | None = None
    top1: float | None = None

    def build(self, num_classes: int | None = None, pretrained: bool = False) -> Any:
        """The bare timm model (random init unless ``pretrained``); ``num_classes`` None keeps
        the architecture's own (1000 for the ImageNet tags)."""
        import timm

        kwargs = {key: resolve_kwarg(self.name, key, value) for key, value in self.kwargs.items()}
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        return timm.create_model(self.architecture, pretrained=pretrained, **kwargs)

    def wrap(self, model: Any) -> Any:
        """``model`` as a :class:`satsim.wrapper.CanonicalModel` reading [0, 1] images."""
        from satsim.wrapper import CanonicalModel

        return CanonicalModel(
            model,
            self.input_size,
            self.mean,
            self.std,
            crop_pct=self.crop_pct or 1.0,
            interpolation=self.interpolation or "bilinear",
        )

    @classmethod
    def from_description(cls, description: dict[str, Any]) -> ModelSpec:
        """Inverse of :meth:`describe` (components are not needed to build a model)."""
        return cls(
            name=description["name"],
            architecture=description["architecture"],
            input_size=int(description["input_size"]),
            mean=tuple(description["mean"]),
            std=tuple(description["std"]),
            kwargs=dict(description.get("kwargs") or {}),
            crop_pct=description.get("crop_pct"),
            interpolation=description.get("interpolation"),
        )

    def describe(self) -> dict[str, Any]:
        """JSON-able description recorded in artefacts."""
        return {
            "name": self.name,
            "architecture": self.architecture,
            "kwargs": self.kwargs,
            "input_size": self.input_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "crop_pct": self.crop_pct,
            "interpolation": self.interpolation,
        }


# Layer classes a registry may name in kwargs, as "class:<module>.<Name>"; only these packages.
CLASS_PREFIX = "class:"
CLASS_MODULES = ("timm.", "torch.nn.")


def resolve_kwarg(model: str, key: str, value: Any) -> Any:
    """YAML value -> timm kwarg: lists become tuples, ``"class:timm.layers.GatedMlp"`` the class."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, str) and value.startswith(CLASS_PREFIX):
        import importlib

        dotted = value[len(CLASS_PREFIX) :]
        module_name, _, attribute = dotted.rpartition(".")
        if not dotted.startswith(CLASS_MODULES):
            raise ValueError(
                f"model {model!r}: kwargs.{key} = {value!r} may only name a class from "
                f"{', '.join(CLASS_MODULES)}"
            )
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"model {model!r}: kwargs.{key} = {value!r}: {error}") from error
    return value


class Registry(dict[str, ModelSpec]):
    """Ordered mapping from model name to :class:`ModelSpec`."""

    source: str = ""

    def get_spec(self, name: str) -> ModelSpec:
        if name not in self:
            close = difflib.get_close_matches(name, list(self), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"model {name!r} is not in the registry {self.source}.{hint}")
        return self[name]

    def subset(self, names: Iterable[str]) -> Registry:
        chosen = Registry({name: self.get_spec(name) for name in names})
        chosen.source = self.source
        return chosen

    def components_table(self) -> Any:
        """The 13 component columns as a pandas DataFrame indexed by ``Model name``."""
        import pandas as pd

        rows = [{"Model name": spec.name, **spec.components} for spec in self.values()]
        return pd.DataFrame(rows, columns=["Model name", *COMPONENT_COLUMNS]).set_index(
            "Model name"
        )


_SPEC_KEYS = {
    "architecture",
    "kwargs",
    "input_size",
    "mean",
    "std",
    "components",
    "crop_pct",
    "interpolation",
    "top1",
    "tag_reason",
}


def load_registry(path: str | Path) -> Registry:
    """Read and validate a registry YAML file; errors name the file, model and key."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model registry {path} not found (config key models.registry)")
    document = yaml.safe_load(path.read_text()) or {}
    entries = document.get("models")
    if not isinstance(entries, dict) or not entries:
        raise ValueError(f"{path}: expected a non-empty mapping under the key 'models'")
    registry = Registry()
    registry.source = str(path)
    for name, entry in entries.items():
        unknown = set(entry) - _SPEC_KEYS
        if unknown:
            raise ValueError(f"{path}: model {name!r} has unknown keys {sorted(unknown)}")
        for key in ("architecture", "input_size", "components"):
            if key not in entry:
                raise ValueError(f"{path}: model {name!r} lacks the key {key!r}")
        components = {column: str(value) for column, value in entry["components"].items()}
        try:
            validate_components(name, components)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
        registry[name] = ModelSpec(
            name=name,
            architecture=entry["architecture"],
            input_size=int(entry["input_size"]),
            mean=tuple(entry.get("mean", IMAGENET_MEAN)),
            std=tuple(entry.get("std", IMAGENET_STD)),
            kwargs=dict(entry.get("kwargs") or {}),
            components=components,
            crop_pct=entry.get("crop_pct"),
            interpolation=entry.get("interpolation"),
            top1=entry.get("top1"),
        )
    return registry
