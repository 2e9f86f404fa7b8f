"""Synthetic SAT matrices in the format of the authors' release (SAT_release.csv), with a planted
structure: pairs sharing chosen components are more similar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def planted_sat(
    names: Sequence[str],
    components: Mapping[str, Mapping[str, str]],
    effects: Mapping[str, float],
    seed: int = 0,
    noise: float = 0.1,
) -> pd.DataFrame:
    """SAT = 2 + sum of ``effects[c]`` over the components the pair shares + noise; diagonal
    ln(100). Symmetric, natural log, like the release."""
    rng = np.random.default_rng(seed)
    n = len(names)
    values = np.full((n, n), np.log(100.0))
    for i in range(n):
        for j in range(i + 1, n):
            shared = sum(
                effect
                for column, effect in effects.items()
                if components[names[i]][column] == components[names[j]][column]
            )
            values[i, j] = values[j, i] = 2.0 + shared + noise * rng.standard_normal()
    return pd.DataFrame(values, index=list(names), columns=list(names))


def write_release_csv(sat: pd.DataFrame, path: Path) -> Path:
    """The release's layout: a header row and a first column of model names (blank corner)."""
    sat.to_csv(path, float_format="%.6f")
    return path
