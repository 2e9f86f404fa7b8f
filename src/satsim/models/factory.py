"""How a registry entry becomes a model (timm's ``create_model``, or the user's own factory
function), and the wrapper that lets it read canonical [0, 1] images."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from satsim.models.registry import ModelSpec, split_factory
from satsim.models.wrapper import CanonicalModel


class FactoryError(ValueError):
    """A factory model could not be built; the message names the registry file, model and key."""


def build_model(
    spec: ModelSpec, num_classes: int | None = None, pretrained: bool = False
) -> nn.Module:
    """The bare model (random init unless ``pretrained``); ``num_classes`` None keeps the
    architecture's own (1000 for the ImageNet tags; a factory's own default).

    kwargs are resolved by :func:`resolve_kwarg` and passed to ``timm.create_model`` or to
    the factory function, with ``num_classes`` (when given) overriding ``kwargs``.
    """
    kwargs = {key: resolve_kwarg(spec.name, key, value) for key, value in spec.kwargs.items()}
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if spec.factory is not None:
        return _build_factory(spec, kwargs, pretrained)
    return timm.create_model(spec.architecture, pretrained=pretrained, **kwargs)


def _where(spec: ModelSpec) -> str:
    registry = f"{spec.registry_file}: " if spec.registry_file else ""
    return f"{registry}model {spec.name!r}: factory {spec.factory!r}"


def _build_factory(spec: ModelSpec, kwargs: dict[str, Any], pretrained: bool) -> nn.Module:
    if pretrained:
        raise FactoryError(
            f"{_where(spec)}: a factory model has no pretrained weights to download; give "
            f"its weights in the config: models.local_weights.{spec.name}: "
            "/path/file.safetensors (or train it: models.weights: train)"
        )
    function = load_factory(spec.factory, _where(spec))
    try:
        model = function(**kwargs)
    except Exception as error:
        arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
        raise FactoryError(
            f"{_where(spec)}: calling it with ({arguments}) raised {type(error).__name__}: {error}"
        ) from error
    if not isinstance(model, nn.Module):
        raise FactoryError(
            f"{_where(spec)}: returned a {type(model).__name__}, not a torch.nn.Module"
        )
    if "num_classes" in kwargs:
        check_outputs(spec, model, int(kwargs["num_classes"]))
    return model


def check_outputs(spec: ModelSpec, model: nn.Module, num_classes: int) -> None:
    """Stop when ``model`` does not give one logit per class for an image of its input size.

    A factory that ignores ``num_classes`` would otherwise fail deep in training (``Target 9 is
    out of bounds``) or, with more outputs than classes, train and attack the wrong problem.
    """
    side = spec.input_size
    was_training = model.training
    model.eval()  # one image: batch norm in training mode would refuse it
    try:
        with torch.no_grad():
            output = model(torch.zeros(1, 3, side, side))
    except Exception as error:
        raise FactoryError(
            f"{_where(spec)}: the model fails on one image of its input_size ({side} x {side}): "
            f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
        ) from error
    finally:
        model.train(was_training)
    if not isinstance(output, torch.Tensor):
        raise FactoryError(
            f"{_where(spec)}: the model returns a {type(output).__name__} for an image of its "
            f"input_size ({side} x {side}), not a tensor of {num_classes} logits"
        )
    if tuple(output.shape) != (1, num_classes):
        gives = (
            f"{output.shape[1]} outputs per image"
            if output.dim() == 2
            else f"an output of shape {tuple(output.shape)} for one image"
        )
        raise FactoryError(
            f"{_where(spec)}: gives {gives} at its input_size ({side} x {side}), but this run "
            f"has {num_classes} classes: make the factory pass its num_classes argument on to "
            "the model's last layer"
        )


def canonical_model(spec: ModelSpec, model: nn.Module) -> CanonicalModel:
    """``model`` as a :class:`satsim.models.wrapper.CanonicalModel` reading [0, 1] images."""
    return CanonicalModel(
        model,
        spec.input_size,
        spec.mean,
        spec.std,
        crop_pct=spec.crop_pct or 1.0,
        interpolation=spec.interpolation or "bilinear",
    )


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
