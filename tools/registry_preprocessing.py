"""Write the preprocessing values of a registry of pretrained timm models from timm's pretrained
configs: input_size, mean, std, crop_pct and interpolation of each model's pinned ``name.tag``.

Only those lines change: comments, the order of models and keys, every other key and the layout
of the file stay as they are (the file is edited line by line, not re-dumped). timm's configs are
part of its code, so no network is needed. input_size is ``pretrained_cfg["input_size"][-1]``
(the native eval resolution; test_input_size is ignored). Models built by a ``factory`` are
skipped; a timm model must pin a tag (``name.tag``)::

    python tools/registry_preprocessing.py            # rewrite configs/models/paper.yaml
    python tools/registry_preprocessing.py --check    # list the differences, exit 1 if any
    python tools/registry_preprocessing.py path/to/registry.yaml [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import timm
import yaml
from timm.models import get_pretrained_cfg

from satsim.workflow.atomic import atomic_path

DEFAULT_REGISTRY = Path(__file__).resolve().parents[1] / "configs" / "models" / "paper.yaml"
FIELDS = ("input_size", "mean", "std", "crop_pct", "interpolation")

_KEY_RE = re.compile(r"(?P<indent> *)(?P<key>[^\s#][^:#]*?)\s*:(?:\s+|$)(?P<rest>.*)")
_COMMENT_RE = re.compile(r"\s+#.*$")


def timm_preprocessing(architecture: str) -> dict[str, Any]:
    """The preprocessing fields of a timm ``name.tag`` (LookupError if timm has none)."""
    if "." not in architecture:
        raise LookupError(f"{architecture!r} pins no pretrained tag (write name.tag)")
    try:
        cfg = get_pretrained_cfg(architecture)
    except RuntimeError as error:  # a known architecture with an unknown tag
        raise LookupError(f"{architecture!r}: {error}") from None
    if cfg is None:
        raise LookupError(f"{architecture!r} has no pretrained config in timm {timm.__version__}")
    return {
        "input_size": int(cfg.input_size[-1]),
        "mean": [float(value) for value in cfg.mean],
        "std": [float(value) for value in cfg.std],
        "crop_pct": float(cfg.crop_pct),
        "interpolation": str(cfg.interpolation),
    }


def format_value(value: Any) -> str:
    """The registry's spelling of a value: flow lists, shortest round-tripping floats."""
    if isinstance(value, list):
        text = "[" + ", ".join(format_value(item) for item in value) + "]"
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    if yaml.safe_load(text) != value:
        raise ValueError(f"{value!r} would not read back from YAML as written ({text})")
    return text


def _indent(line: str) -> int | None:
    """Indentation of a line that holds YAML content (None for blank and comment lines)."""
    stripped = line.lstrip(" ")
    if not stripped.strip() or stripped.startswith("#"):
        return None
    return len(line) - len(stripped)


def _blocks(lines: list[str], start: int, stop: int, indent: int) -> list[tuple[str, int, int]]:
    """(key, first line, end line) of the mapping entries at ``indent`` in lines[start:stop];
    an entry runs to the next line of content at that indentation or less."""
    blocks: list[tuple[str, int, int]] = []
    for number in range(start, stop):
        depth = _indent(lines[number])
        if depth is None or depth > indent:
            continue
        match = _KEY_RE.fullmatch(lines[number].rstrip("\r\n"))
        if depth < indent or match is None:
            raise ValueError(
                f"line {number + 1}: expected a key indented by {indent} spaces: "
                f"{lines[number].rstrip()!r}"
            )
        if blocks:
            blocks[-1] = (*blocks[-1][:2], _content_end(lines, blocks[-1][1], number))
        blocks.append((yaml.safe_load(match["key"]), number, stop))
    if blocks:
        blocks[-1] = (*blocks[-1][:2], _content_end(lines, blocks[-1][1], stop))
    return blocks


def _content_end(lines: list[str], first: int, stop: int) -> int:
    """One past the last content line of the block starting at ``first`` (trailing blank and
    comment lines belong to what follows)."""
    end = first + 1
    for number in range(first + 1, stop):
        if _indent(lines[number]) is not None:
            end = number + 1
    return end


def rewrite(text: str) -> tuple[str, list[str]]:
    """(new text, differences as 'model: key: old -> new') of a registry's text."""
    document = yaml.safe_load(text) or {}
    entries = document.get("models") if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ValueError("expected a non-empty mapping under the key 'models'")
    lines = text.splitlines(keepends=True)

    top = {key: (first, end) for key, first, end in _blocks(lines, 0, len(lines), 0)}
    models_first, models_end = top["models"]
    model_indent = next(
        depth
        for line in lines[models_first + 1 : models_end]
        if (depth := _indent(line)) is not None
    )
    models = _blocks(lines, models_first + 1, models_end, model_indent)
    if [name for name, _, _ in models] != list(entries):
        raise ValueError("the models found line by line differ from the YAML's: not block style?")

    differences: list[str] = []
    replaced: dict[int, tuple[int, str]] = {}  # first line -> (end line, replacement)
    inserted: dict[int, list[str]] = {}  # line number -> lines to insert before it
    for name, first, end in models:
        entry = entries[name]
        if "factory" in entry:
            continue
        try:
            wanted = timm_preprocessing(str(entry.get("architecture")))
        except LookupError as error:
            raise ValueError(f"model {name!r}: {error}") from None
        key_indent = next(
            depth for line in lines[first + 1 : end] if (depth := _indent(line)) is not None
        )
        keys = _blocks(lines, first + 1, end, key_indent)
        spans = {key: (start, stop) for key, start, stop in keys}
        if len(spans) != len(keys):
            raise ValueError(f"model {name!r} has a key twice")
        newline = "\r\n" if lines[first].endswith("\r\n") else "\n"
        after = spans["architecture"][1]  # a missing field goes after the one before it
        for field in FIELDS:
            value = format_value(wanted[field])
            line = f"{' ' * key_indent}{field}: {value}"
            if field not in spans:
                differences.append(f"{name}: {field}: (missing) -> {value}")
                inserted.setdefault(after, []).append(line + newline)
                continue
            start, after = spans[field]
            old = lines[start].rstrip("\r\n")
            rest = _KEY_RE.fullmatch(old)["rest"]
            comment = _COMMENT_RE.search(rest)
            if comment:
                line += comment[0]
                rest = rest[: comment.start()]
            if after - start > 1 or old != line:
                old_value = " ".join([rest.strip()] + [x.strip() for x in lines[start + 1 : after]])
                differences.append(f"{name}: {field}: {old_value.strip()} -> {value}")
                replaced[start] = (after, line + lines[start][len(old) :])
    new_lines = []
    number = 0
    while number <= len(lines):
        new_lines += inserted.get(number, [])
        if number in replaced:
            number, line = replaced[number]
            new_lines.append(line)
        else:
            new_lines += lines[number : number + 1]
            number += 1
    lines = new_lines
    new_text = "".join(lines)
    _check_result(text, new_text)
    return new_text, differences


def _check_result(old_text: str, new_text: str) -> None:
    """The rewrite must change nothing but the preprocessing fields, and get them right."""
    old = yaml.safe_load(old_text)["models"]
    new = yaml.safe_load(new_text)["models"]
    assert list(old) == list(new)
    for name, entry in new.items():
        others = {key: value for key, value in entry.items() if key not in FIELDS}
        assert others == {k: v for k, v in old[name].items() if k not in FIELDS}, name
        if "factory" not in entry:
            wanted = timm_preprocessing(entry["architecture"])
            assert {field: entry[field] for field in FIELDS} == wanted, name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", type=Path, nargs="?", default=DEFAULT_REGISTRY)
    parser.add_argument(
        "--check", action="store_true", help="list differences, write nothing, exit 1 if any"
    )
    args = parser.parse_args(argv)

    with args.registry.open(newline="") as handle:
        text = handle.read()
    try:
        new_text, differences = rewrite(text)
    except ValueError as error:
        raise SystemExit(f"{args.registry}: {error}") from None
    for difference in differences:
        print(f"{args.registry}: {difference}")
    if args.check:
        if differences:
            print(
                f"{len(differences)} preprocessing value(s) differ from timm {timm.__version__}; "
                f"run: python tools/registry_preprocessing.py {args.registry}",
                file=sys.stderr,
            )
            return 1
        print(f"{args.registry}: preprocessing agrees with timm {timm.__version__}")
        return 0
    if new_text != text:
        with atomic_path(args.registry) as tmp:
            with tmp.open("w", newline="") as handle:
                handle.write(new_text)
    print(f"{args.registry}: {len(differences)} preprocessing value(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
