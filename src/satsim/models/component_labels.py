"""The 13 architectural components of the paper, with a controlled vocabulary.

Column names and values follow the authors' table (``Model Feature_release.csv``). Multi-valued
cells join atoms with " + " (Normalization, Activation) or list them inside "Yes (...)"
(2D SA, CW attention). The stem is written kernel `k` and stride `sS`, `/` between successive
convolutions (``7s2``, ``3s2/3/3``); the resolution as ``H x W``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

COMPONENT_COLUMNS: tuple[str, ...] = (
    "Base architecture",
    "Hierarchical structure",
    "Stem layer",
    "Input resolution",
    "Normalization",
    "Activation",
    "Pooling (stem)",
    "Pooling (final)",
    "2D SA",
    "CW attention",
    "Location of CW attention",
    "DW conv",
    "Group conv",
)

YES_NO = frozenset({"Yes", "No"})

# Allowed atoms per categorical column ("~" = not applicable, "-" = none).
VOCABULARY: dict[str, frozenset[str]] = {
    "Base architecture": frozenset(
        {"CNN", "Transformer", "MLP-Mixer", "NAS (CNN)", "NAS (TFM)", "Hybrid"}
    ),
    "Hierarchical structure": YES_NO,
    "Normalization": frozenset({"BN", "LN", "GN", "Norm-free", "EvoNorm", "Affine transform"}),
    "Activation": frozenset({"ReLU", "GeLU", "SiLU", "Leaky ReLU", "HardSwish", "ReLU6", "-"}),
    "Pooling (stem)": YES_NO,
    "Pooling (final)": frozenset({"GAP", "CLS token"}),
    "2D SA": frozenset({"BoT", "Halo", "Lambda"}),
    "CW attention": frozenset({"SE", "ECA", "GCA", "ESE"}),
    "Location of CW attention": frozenset({"Middle", "End", "~"}),
    "DW conv": YES_NO,
    "Group conv": YES_NO,
}

_STEM = re.compile(r"^\d+(s\d+)?(/\d+(s\d+)?)*$")
_RESOLUTION = re.compile(r"^\d+ x \d+$")
_YES_LIST = re.compile(r"^Yes( \((?P<items>[^)]*)\))?$")


def atoms(column: str, value: str) -> list[str]:
    """Split a cell into its atoms: ``"ReLU + SiLU"`` -> ``["ReLU", "SiLU"]``,
    ``"Yes (Halo, BoT)"`` -> ``["Halo", "BoT"]``, ``"No"`` -> ``[]`` for 2D SA / CW attention."""
    value = value.strip()
    if column in ("2D SA", "CW attention"):
        if value == "No":
            return []
        match = _YES_LIST.match(value)
        if not match:
            raise ValueError(f"{column}: {value!r} is not 'No' or 'Yes (A, B)'")
        items = match.group("items")
        return [item.strip() for item in items.split(",")] if items else []
    if column in ("Normalization", "Activation"):
        return [item.strip() for item in value.split("+")]
    return [value]


def validate_components(model: str, components: Mapping[str, str]) -> None:
    """Raise ``ValueError`` naming the model and column if a value is outside the vocabulary."""
    missing = [column for column in COMPONENT_COLUMNS if column not in components]
    extra = [column for column in components if column not in COMPONENT_COLUMNS]
    if missing or extra:
        raise ValueError(
            f"model {model!r}: component columns missing {missing} / unknown {extra}; "
            f"expected exactly {list(COMPONENT_COLUMNS)}"
        )
    for column in COMPONENT_COLUMNS:
        value = str(components[column])
        if column == "Stem layer":
            ok = bool(_STEM.match(value))
        elif column == "Input resolution":
            ok = bool(_RESOLUTION.match(value))
        else:
            try:
                ok = all(atom in VOCABULARY[column] for atom in atoms(column, value))
            except ValueError:
                ok = False
        if not ok:
            allowed = sorted(VOCABULARY.get(column, {"pattern"}))
            raise ValueError(
                f"model {model!r}: {column} = {value!r} is not in the vocabulary "
                f"(allowed atoms: {allowed})"
            )
