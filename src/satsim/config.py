"""Run configuration: schema validation with short messages that name the key.

Imports only jsonschema and yaml, so the Snakefile can use it where only Snakemake is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """The run configuration is invalid; the message names the key and what to do."""


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def config_errors(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """One line per schema violation, each naming the offending key."""
    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed))
            parent = _key_path(error)
            for key in unknown:
                where = key if parent == "(top level)" else f"{parent}.{key}"
                lines.append(f"unknown config key '{where}' (allowed here: {', '.join(allowed)})")
        else:
            lines.append(f"config key '{_key_path(error)}': {error.message}")
    return lines


def load_schema(path: str | Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


_SCALAR_TYPES = {"integer": int, "number": (int, float), "boolean": bool}


def coerce_command_line_values(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Turn strings into the numbers or booleans the schema asks for, in place.

    ``snakemake --config attack='{steps: 3}'`` hands nested values over as strings ("3"), list
    items too (``seeds: [1, 2]``); read them as YAML where the schema wants a number or a boolean
    (also as one alternative of a ``oneOf``). Anything else is left for the validator to report.
    """
    for key, subschema in schema.get("properties", {}).items():
        if key in config:
            config[key] = _coerced(config[key], subschema)


def _type_names(schema: dict[str, Any]) -> list[str]:
    names = schema.get("type", [])
    return [names] if isinstance(names, str) else list(names)


def _coerced(value: Any, schema: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        coerce_command_line_values(value, schema)
        return value
    alternatives = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
    if isinstance(value, list):
        items = next((alt["items"] for alt in alternatives if "items" in alt), None)
        return [_coerced(item, items) for item in value] if items else value
    if isinstance(value, str):
        names = [name for alt in alternatives for name in _type_names(alt)]
        wanted = [_SCALAR_TYPES[name] for name in names if name in _SCALAR_TYPES]
        if wanted:
            parsed = yaml.safe_load(value)
            bool_unwanted = isinstance(parsed, bool) and bool not in wanted
            if not bool_unwanted and any(isinstance(parsed, kind) for kind in wanted):
                return parsed
    return value


def check_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` listing every invalid key of ``config`` (after reading
    command-line strings as the numbers or booleans the schema expects)."""
    schema = load_schema(schema_path)
    coerce_command_line_values(config, schema)
    errors = config_errors(config, schema)
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))


DEMO_HINT = (
    "To try satsim without ImageNet, run the demo: "
    "snakemake --cores all --configfile configs/demo.yaml"
)


def check_imagenet_paths(data: dict[str, Any], resolve: Any = Path) -> None:
    """Stop at once, before any job, when the paper run's ImageNet folder is not usable.

    ``resolve`` turns a config path into a filesystem path (the Snakefile resolves shipped files
    relative to the workflow).
    """
    from satsim.imagenet import ImageNetError, detect_layout

    root = data.get("imagenet_val")
    if not root:
        raise ConfigError(
            "data.imagenet_val is not set: the paper run needs your copy of the ILSVRC2012 "
            "validation images. Name it in config.yaml or on the command line: snakemake "
            "--cores all --use-conda --config data='{imagenet_val: /path/to/ILSVRC2012/val}'. "
            + DEMO_HINT
        )
    try:
        detect_layout(root)
    except ImageNetError as error:
        raise ConfigError(f"{error}. {DEMO_HINT}") from None
    for key in ("imagenet_labels", "imagenet_subset"):
        if data.get(key) and not Path(resolve(data[key])).is_file():
            raise ConfigError(f"data.{key} = {data[key]}: no such file")


def check_factory_weights(models: dict[str, Any], registry: Any, local: dict[str, Any]) -> None:
    """A factory model (your own architecture) has no weights to download: in a pretrained run
    it needs ``models.local_weights``; say so before any job."""
    if models["weights"] != "pretrained":
        return
    missing = [name for name, spec in registry.items() if spec.factory and name not in local]
    if missing:
        raise ConfigError(
            f"models {', '.join(map(repr, missing))} are built by a factory and have no weights "
            "to download: give each a file, e.g. models.local_weights."
            f"{missing[0]}: /path/to/weights.safetensors"
        )


def local_weights(models: dict[str, Any], registry: Any) -> dict[str, dict[str, str]]:
    """``models.local_weights`` as {model: {"path": ..., "sha256": ...}}, checked against the
    registry (unknown names get suggestions) and the filesystem."""
    entries = models.get("local_weights") or {}
    if entries and models["weights"] != "pretrained":
        raise ConfigError("models.local_weights applies only to models.weights: pretrained")
    checked = {}
    for name, entry in entries.items():
        try:
            registry.get_spec(name)
        except KeyError as error:
            raise ConfigError(f"models.local_weights: {error.args[0]}") from None
        entry = {"path": entry} if isinstance(entry, str) else dict(entry)
        if not Path(entry["path"]).is_file():
            raise ConfigError(f"models.local_weights.{name} = {entry['path']}: no such file")
        checked[name] = entry
    return checked
