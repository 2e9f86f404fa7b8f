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

    ``snakemake --config attack='{steps: 3}'`` hands nested values over as strings ("3"); read
    them as YAML where the schema wants a number or a boolean. Anything else is left for the
    validator to report.
    """
    for key, subschema in schema.get("properties", {}).items():
        if key not in config:
            continue
        value = config[key]
        if isinstance(value, dict):
            coerce_command_line_values(value, subschema)
        elif isinstance(value, str) and subschema.get("type") in _SCALAR_TYPES:
            parsed = yaml.safe_load(value)
            if isinstance(parsed, _SCALAR_TYPES[subschema["type"]]):
                config[key] = parsed


def check_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` listing every invalid key of ``config`` (after reading
    command-line strings as the numbers or booleans the schema expects)."""
    schema = load_schema(schema_path)
    coerce_command_line_values(config, schema)
    errors = config_errors(config, schema)
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
