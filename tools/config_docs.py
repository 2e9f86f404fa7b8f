"""Write docs/configuration.md from schemas/config.schema.yaml: every key with its type,
default, whether it is required, and the schema's description.

    python tools/config_docs.py            # rewrite docs/configuration.md
    python tools/config_docs.py --check    # exit 1 if docs/configuration.md is out of date

The schema is the one source: a key's meaning is edited in its ``description`` there, then this
command is rerun (tests/test_docs.py fails until it is). The few paragraphs on how a config is
read (``USAGE`` below) are the only hand-written part of the page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "config.schema.yaml"
OUTPUT = REPO / "docs" / "configuration.md"
COMMAND = "python tools/config_docs.py"

USAGE = """\
## How a config is read

`config.yaml` is the paper run; [`configs/demo.yaml`](../configs/demo.yaml) the demo and
[`configs/released.yaml`](../configs/released.yaml) the analyses on the authors' released matrix.
A `--configfile` replaces `config.yaml` whole, so nothing of the paper run leaks into the demo.
The config is validated against the schema before anything runs: an unknown key or a bad value
stops at once with a line naming the key
(`unknown config key 'attack.epsilon' (allowed here: ...)`).

- **Override one value** with `--config attack='{epsilon_255ths: 8}'`: the rest of the section
  is kept. Snakemake itself refuses the dotted `attack.epsilon_255ths=8` with a traceback, before
  satsim can say anything.
- **A `--configfile` that is not valid YAML** stops inside Snakemake, without a line number;
  `python -c "import yaml, sys; yaml.safe_load(open(sys.argv[1]))" my.yaml` names the line.
- **Execution settings** (`compute.device`, `compute.tf32`, `compute.batch_size`,
  `attack.batch_size`) never rerun a finished job: they are read from the config, not passed as
  Snakemake params, so a batch can be halved to fit a GPU midway through a run. The native
  attack draws each image's random start from its own seed, so its results do not depend on the
  batch size (bit for bit on a CPU; a GPU's kernels may differ in the last bits with the batch
  shape); advertorch's random start does, so with `attack.backend: advertorch` the batch size is
  part of the attack and a change reruns it. Settings that change numbers (attack budget, steps,
  precision, data, weights, seed) rerun what depends on them and nothing else.
- **Useful Snakemake calls:** a single target
  (`snakemake --cores all --configfile configs/demo.yaml results/demo/figures/fig2.pdf`),
  `--until attack` (stop after the attacks), `--use-conda` (each rule in its pinned env from
  `envs/`), `--dry-run` (show the plan).
"""


def _code(value: Any) -> str:
    """A value as inline YAML in a code span."""
    if isinstance(value, str):
        text = value
    else:
        text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
        text = text.removesuffix("...").strip()
    return f"`{text}`"


def _bounds(schema: dict) -> str:
    low = (
        f"≥ {schema['minimum']}"
        if "minimum" in schema
        else f"> {schema['exclusiveMinimum']}"
        if "exclusiveMinimum" in schema
        else ""
    )
    high = f"≤ {schema['maximum']}" if "maximum" in schema else ""
    return ", ".join(part for part in (low, high) if part)


def type_of(schema: dict) -> str:
    """One line saying what a value may be: type, enum, bounds, pattern, items."""
    if "enum" in schema:
        return " | ".join(_code(value) for value in schema["enum"])
    if "const" in schema:
        return _code(schema["const"])
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            return " or ".join(type_of(alternative) for alternative in schema[keyword])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        text = " or ".join(kind)
    elif kind == "array":
        items = schema.get("items")
        text = f"list of {type_of(items)}" if items else "list"
        extra = []
        if "minItems" in schema:
            extra.append(f"at least {schema['minItems']}")
        if schema.get("uniqueItems"):
            extra.append("no repeats")
        if extra:
            text += f" ({', '.join(extra)})"
        return text
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        value = schema["additionalProperties"]
        return f"map of name → {type_of(value)}"
    elif kind == "object" and "properties" in schema and "description" not in schema:
        fields = ", ".join(schema["properties"])
        return f"{{{fields}}}"
    else:
        text = kind
    bounds = _bounds(schema)
    if bounds:
        text += f" {bounds}"
    if "minLength" in schema:
        text += " (not empty)"
    if "pattern" in schema:
        text += f" matching {_code(schema['pattern'])}"
    return text


def _cell(text: str) -> str:
    """Text for one table cell: one line, "|" escaped, "<" escaped so that "<run_name>" is not
    read as an HTML tag."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "\\<")


def _type_cell(schema: dict) -> str:
    return _cell(type_of(schema))


def rows(schema: dict, prefix: str = "") -> list[str]:
    """Table rows for the properties of an object schema, nested objects flattened (a.b)."""
    out = []
    required = set(schema.get("required", []))
    for name, child in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        default = _code(child["default"]) if "default" in child else ""
        nested = child.get("type") == "object" and "properties" in child
        kind = "section" if nested else _type_cell(child)
        out.append(
            f"| `{key}` | {kind} | {'yes' if name in required else ''} | {default} "
            f"| {_cell(child.get('description', ''))} |"
        )
        if nested:
            out.extend(rows(child, f"{key}."))
    return out


def _conditions(schema: dict) -> dict[str, list[str]]:
    """Keys that an ``allOf: [{if: ..., then: {required: [...]}}]`` makes required, by key."""
    notes: dict[str, list[str]] = {}
    for rule in schema.get("allOf", []):
        path, node = [], rule.get("if", {})
        while "properties" in node:
            (name, node), *_ = node["properties"].items()
            path.append(name)
        if "const" not in node:
            continue
        condition = f"`{'.'.join(path)}` is {_code(node['const'])}"
        for key in rule.get("then", {}).get("required", []):
            notes.setdefault(key, []).append(condition)
    return notes


TABLE_HEAD = ["| key | type | required | default | meaning |", "| --- | --- | --- | --- | --- |"]


def render(schema: dict) -> str:
    """The whole of docs/configuration.md for this schema."""
    properties = schema["properties"]
    required = set(schema.get("required", []))
    conditions = _conditions(schema)
    lines = [
        "# Configuration",
        "",
        f"<!-- Generated by `{COMMAND}` from schemas/config.schema.yaml: do not edit by hand. -->",
        "",
        f"This page is generated by `{COMMAND}` from",
        "[`schemas/config.schema.yaml`](../schemas/config.schema.yaml): every key of a run's",
        "configuration with its type, default and meaning. To change it, edit the schema's",
        f"`description`s and rerun the command; `{COMMAND} --check` (run by",
        "[`tests/test_docs.py`](../tests/test_docs.py)) says whether the page is current.",
        "",
        USAGE.rstrip(),
        "",
        "## Top-level keys",
        "",
        *([f"The schema: {_cell(schema['description'])}.", ""] if "description" in schema else []),
        *TABLE_HEAD,
    ]
    for name, child in properties.items():
        need = "yes" if name in required else ""
        if name in conditions:
            need = "when " + " or ".join(conditions[name])
        default = _code(child["default"]) if "default" in child else ""
        kind = "section" if child.get("type") == "object" else _type_cell(child)
        anchor = f"[`{name}`](#{name})" if kind == "section" else f"`{name}`"
        lines.append(
            f"| {anchor} | {kind} | {need} | {default} | {_cell(child.get('description', ''))} |"
        )
    for name, child in properties.items():
        if child.get("type") != "object":
            continue
        lines += ["", f"## {name}", ""]
        if child.get("description"):
            lines += [" ".join(child["description"].split()), ""]
        lines += [*TABLE_HEAD, *rows(child, f"{name}.")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", type=Path, default=SCHEMA)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the output file is not current"
    )
    args = parser.parse_args(argv)
    text = render(yaml.safe_load(args.schema.read_text()))
    if args.check:
        current = args.output.read_text() if args.output.exists() else None
        if current != text:
            print(f"{args.output} is out of date with {args.schema}: run `{COMMAND}`")
            return 1
        print(f"{args.output} is current")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
