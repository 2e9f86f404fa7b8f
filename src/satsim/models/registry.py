"""Model registries: YAML files that name each model of a run, how to build it, and its 13
architectural components.

Format (``configs/models/*.yaml``)::

    models:
      <name>:
        architecture: resnet18        # timm model name (optionally name.tag for pretrained)
        # or, instead of architecture, your own architecture built by a Python function:
        # factory: my_models.py:make_net     (a file, relative to this YAML file's folder)
        # factory: my_package.nets:make_net  (an importable module)
        kwargs: {channels: [16, 32, 64, 128]}   # passed to timm.create_model or the factory
        input_size: 32                # native resolution, pixels
        mean: [0.5, 0.5, 0.5]         # normalisation in [0, 1] units
        std: [0.5, 0.5, 0.5]
        components: {Base architecture: CNN, ...}   # satsim.models.component_labels' 13 columns
        # pretrained models also: crop_pct, interpolation (timm's eval transform of the tag),
        # top1 (timm's published ImageNet top-1 in percent, as timm's results table gives it;
        # every accuracy satsim measures is a fraction), tag_reason (why this tag; documentation)
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from satsim.models.component_labels import validate_components

# timm's IMAGENET_DEFAULT_MEAN and _STD, the normalisation of a model that names none. Written
# out because reading a registry (the Snakefile does, before any job) must not import torch;
# tests/test_registry_tool.py checks that they equal timm's.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """What one model of a run is (data only; :mod:`satsim.models.factory` builds it).

    A timm model has ``architecture`` (the timm name). A factory model has ``factory``
    (``"/abs/path/file.py:function"`` or ``"package.module:function"``), and ``architecture``
    is the factory as the registry wrote it, for tables.
    """

    name: str
    architecture: str
    input_size: int
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    kwargs: dict[str, Any] = field(default_factory=dict)
    components: dict[str, str] = field(default_factory=dict)
    # Pretrained models only: timm's eval transform of the pinned tag, and its published top-1 in
    # percent (satsim's own accuracies are fractions: analysis.accuracy_report.top1_fraction).
    crop_pct: float | None = None
    interpolation: str | None = None
    top1: float | None = None
    factory: str | None = None
    # The YAML file that defined the model (named in errors); not part of the model's identity.
    registry_file: str | None = field(default=None, compare=False)

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
            factory=description.get("factory"),
            registry_file=description.get("registry_file"),
        )

    def describe(self) -> dict[str, Any]:
        """JSON-able description recorded in artefacts (a timm model's has no factory keys, so
        its description, and the jobs that depend on it, are as before factories existed)."""
        description = {
            "name": self.name,
            "architecture": self.architecture,
            "kwargs": self.kwargs,
            "input_size": self.input_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "crop_pct": self.crop_pct,
            "interpolation": self.interpolation,
        }
        if self.factory is not None:
            description["factory"] = self.factory
            description["registry_file"] = self.registry_file
        return description

    def identity(self) -> dict[str, Any]:
        """What the model computes apart from its weights: the description without where the
        registry lives, plus the sha256 of a factory's ``.py`` file (its code)."""
        identity = {key: value for key, value in self.describe().items() if key != "registry_file"}
        source = (self.factory or "").rpartition(":")[0]
        if source.endswith(".py") and Path(source).is_file():
            identity["factory_sha256"] = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        return identity


_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_MODULE_RE = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})*")
_FUNCTION_RE = re.compile(_IDENTIFIER)


def split_factory(factory: str) -> tuple[str, str]:
    """``"module_or_file:function"`` -> (module or file, function); ValueError if malformed."""
    target, colon, function = factory.rpartition(":")
    if not colon or not target or not _FUNCTION_RE.fullmatch(function):
        raise ValueError(
            f"factory {factory!r} must be 'package.module:function' or 'file.py:function'"
        )
    if not target.endswith(".py") and not _MODULE_RE.fullmatch(target):
        raise ValueError(
            f"factory {factory!r}: {target!r} is neither a module name (package.module) nor a "
            "Python file (ending in .py)"
        )
    return target, function


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


_SPEC_KEYS = {
    "architecture",
    "factory",
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


def load_registry(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> Registry:
    """Read and validate one registry YAML file, or several merged in order (a model name may be
    defined only once); errors name the file, model and key.

    Factory modules are not imported here (only by :func:`satsim.models.factory.build_model`).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(path) for path in paths]
    if not paths:
        raise ValueError("config key models.registry: no registry file given")
    resolved = [path.resolve() for path in paths]
    for index, path in enumerate(resolved):
        if path in resolved[:index]:
            raise ValueError(f"config key models.registry names {paths[index]} twice")
    registry = Registry()
    registry.source = ", ".join(str(path) for path in paths)
    for path in paths:
        for name, spec in _load_registry_file(path).items():
            if name in registry:
                raise ValueError(
                    f"model {name!r} is defined in two registries, {registry[name].registry_file} "
                    f"and {path} (config key models.registry): rename one of them"
                )
            registry[name] = spec
    return registry


def _load_registry_file(path: Path) -> dict[str, ModelSpec]:
    if not path.exists():
        raise FileNotFoundError(f"model registry {path} not found (config key models.registry)")
    document = _read_yaml(path) or {}
    entries = document.get("models") if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ValueError(f"{path}: expected a non-empty mapping under the key 'models'")
    specs = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: model {name!r} must be a mapping of keys")
        unknown = set(entry) - _SPEC_KEYS
        if unknown:
            raise ValueError(f"{path}: model {name!r} has unknown keys {sorted(unknown)}")
        if "architecture" in entry and "factory" in entry:
            raise ValueError(
                f"{path}: model {name!r} has both 'architecture' (a timm model) and 'factory' "
                "(your own function): give one of them"
            )
        if "architecture" not in entry and "factory" not in entry:
            raise ValueError(
                f"{path}: model {name!r} lacks the key 'architecture' (a timm model name) or "
                "'factory' ('file.py:function' or 'package.module:function')"
            )
        for key in ("input_size", "components"):
            if key not in entry:
                raise ValueError(f"{path}: model {name!r} lacks the key {key!r}")
        factory = None
        architecture = entry.get("architecture")
        if "factory" in entry:
            architecture, factory = _check_factory(path, name, entry["factory"])
        components = {column: str(value) for column, value in entry["components"].items()}
        try:
            validate_components(name, components)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
        specs[name] = ModelSpec(
            name=name,
            architecture=architecture,
            input_size=int(entry["input_size"]),
            mean=tuple(entry.get("mean", IMAGENET_MEAN)),
            std=tuple(entry.get("std", IMAGENET_STD)),
            kwargs=dict(entry.get("kwargs") or {}),
            components=components,
            crop_pct=entry.get("crop_pct"),
            interpolation=entry.get("interpolation"),
            top1=entry.get("top1"),
            factory=factory,
            registry_file=str(path),
        )
    return specs


def _read_yaml(path: Path) -> Any:
    """The registry file's YAML, read safely (a ``!!python/...`` tag is refused, never run); an
    error names the file and line, not yaml's ``<unicode string>``."""
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        hint = (
            "a registry holds plain YAML: remove the tag (no Python objects are ever built from it)"
            if "python/" in problem
            else "fix the YAML there"
        )
        raise ValueError(f"{where}: not a readable model registry ({problem}); {hint}") from None


def _check_factory(path: Path, name: str, value: Any) -> tuple[str, str]:
    """(architecture for tables, factory with an absolute file path), without importing it."""
    where = f"{path}: model {name!r}: factory {value!r}"
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be 'file.py:function' or 'package.module:function'")
    try:
        target, function = split_factory(value)
    except ValueError as error:
        raise ValueError(f"{path}: model {name!r}: {error}") from None
    if not target.endswith(".py"):
        return value, value
    file = Path(target).expanduser()
    if not file.is_absolute():
        file = path.parent / file
    file = file.resolve()
    if not file.is_file():
        raise ValueError(f"{where}: no such file {file} (relative paths start at {path.parent})")
    return value, f"{file}:{function}"
