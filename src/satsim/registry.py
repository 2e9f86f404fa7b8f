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
        components: {Base architecture: CNN, ...}   # the 13 columns of satsim.components
        # pretrained models also: crop_pct, interpolation (timm's eval transform of the tag),
        # top1 (timm's published ImageNet top-1, %), tag_reason (why this tag; documentation)
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from satsim.components import COMPONENT_COLUMNS, validate_components

# timm, torch, pandas and factory modules are imported inside the methods that need them, so
# that the Snakefile can read a registry where only Snakemake is installed.

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FactoryError(ValueError):
    """A factory model could not be built; the message names the registry file, model and key."""


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model of a run.

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
    # Pretrained models only: timm's eval transform of the pinned tag, and its published top-1 (%).
    crop_pct: float | None = None
    interpolation: str | None = None
    top1: float | None = None
    factory: str | None = None
    # The YAML file that defined the model (named in errors); not part of the model's identity.
    registry_file: str | None = field(default=None, compare=False)

    def build(self, num_classes: int | None = None, pretrained: bool = False) -> Any:
        """The bare model (random init unless ``pretrained``); ``num_classes`` None keeps the
        architecture's own (1000 for the ImageNet tags; a factory's own default).

        kwargs are resolved by :func:`resolve_kwarg` and passed to ``timm.create_model`` or to
        the factory function, with ``num_classes`` (when given) overriding ``kwargs``.
        """
        kwargs = {key: resolve_kwarg(self.name, key, value) for key, value in self.kwargs.items()}
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        if self.factory is not None:
            return self._build_factory(kwargs, pretrained)
        import timm

        return timm.create_model(self.architecture, pretrained=pretrained, **kwargs)

    def _where(self) -> str:
        registry = f"{self.registry_file}: " if self.registry_file else ""
        return f"{registry}model {self.name!r}: factory {self.factory!r}"

    def _build_factory(self, kwargs: dict[str, Any], pretrained: bool) -> Any:
        from torch import nn

        if pretrained:
            raise FactoryError(
                f"{self._where()}: a factory model has no pretrained weights to download; give "
                f"its weights in the config: models.local_weights.{self.name}: "
                "/path/file.safetensors (or train it: models.weights: train)"
            )
        function = load_factory(self.factory, self._where())
        try:
            model = function(**kwargs)
        except Exception as error:
            arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
            raise FactoryError(
                f"{self._where()}: calling it with ({arguments}) raised "
                f"{type(error).__name__}: {error}"
            ) from error
        if not isinstance(model, nn.Module):
            raise FactoryError(
                f"{self._where()}: returned a {type(model).__name__}, not a torch.nn.Module"
            )
        return model

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


def factory_module_name(path: str | os.PathLike) -> str:
    """A stable module name, unique per file: the same file always gets the same name."""
    path = Path(path)
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    return f"satsim_factory_{stem}_{digest}"


def load_factory(factory: str, where: str | None = None) -> Any:
    """Import the function a factory names (a file is loaded once per process, under
    :func:`factory_module_name`). Errors say ``where`` (registry file, model, key)."""
    where = where or f"factory {factory!r}"
    try:
        target, function_name = split_factory(factory)
    except ValueError as error:
        raise FactoryError(f"{where}: {error}") from None
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise FactoryError(f"{where}: no such file {path}")
        module_name = factory_module_name(path)
        module = sys.modules.get(module_name)
        if module is None:
            module_spec = importlib.util.spec_from_file_location(module_name, path)
            if module_spec is None or module_spec.loader is None:
                raise FactoryError(f"{where}: cannot load {path} as a Python module")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_name] = module  # dataclasses and pickling look it up here
            try:
                module_spec.loader.exec_module(module)
            except Exception as error:
                del sys.modules[module_name]
                raise FactoryError(
                    f"{where}: importing {path} failed: {type(error).__name__}: {error}"
                ) from error
    else:
        try:
            module = importlib.import_module(target)
        except Exception as error:
            raise FactoryError(
                f"{where}: importing the module {target!r} failed: {type(error).__name__}: "
                f"{error} (is its package installed or on PYTHONPATH?)"
            ) from error
    function = getattr(module, function_name, None)
    if function is None:
        raise FactoryError(f"{where}: {target} has no function {function_name!r}")
    if not callable(function):
        raise FactoryError(
            f"{where}: {target}.{function_name} is a {type(function).__name__}, not a function"
        )
    return function


# Layer classes a registry may name in kwargs, as "class:<module>.<Name>"; only these packages.
CLASS_PREFIX = "class:"
CLASS_MODULES = ("timm.", "torch.nn.")


def resolve_kwarg(model: str, key: str, value: Any) -> Any:
    """YAML value -> timm kwarg: lists become tuples, ``"class:timm.layers.GatedMlp"`` the class."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, str) and value.startswith(CLASS_PREFIX):
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

    Factory modules are not imported here (only in :meth:`ModelSpec.build`).
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
    document = yaml.safe_load(path.read_text()) or {}
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
