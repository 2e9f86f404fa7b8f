"""Which SAT cells an analysis took from the estimate: an adaptive run
(``sat.pairs.strategy: adaptive``) measures some pairs and estimates the rest, and every analysis
of its ``sat/sat.csv`` says so — a line in its log, and a ``sat_measured`` column in its
per-pair tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def estimated_note(measured: pd.DataFrame) -> str:
    """One line: how many of the matrix's pairs of distinct models are estimated."""
    values = measured.to_numpy(dtype=bool)
    n_models = len(values)
    pairs = n_models * (n_models - 1) // 2
    estimated = pairs - int((values.sum() - np.trace(values)) // 2)
    return (
        f"adaptive run: {estimated} of the {pairs} model pairs of sat/sat.csv are estimated, not "
        "measured (sat/measured.csv; their error: sat/estimate_error.csv); this analysis uses "
        "them like measured ones, and its per-pair tables mark them (sat_measured)"
    )


def read_run_sat(inputs: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A job's ``input.sat`` and, in an adaptive run, ``input.measured`` (0/1 per cell), whose
    :func:`estimated_note` goes to the job's log."""
    sat = pd.read_csv(inputs["sat"], index_col=0)
    if "measured" not in inputs.keys():
        return sat, None
    measured = pd.read_csv(inputs["measured"], index_col=0).astype(bool)
    print(estimated_note(measured))
    return sat, measured


def mark_measured(
    table: pd.DataFrame,
    measured: pd.DataFrame | None,
    columns: tuple[str, str] = ("model_a", "model_b"),
) -> pd.DataFrame:
    """``table`` (one row per model pair, named in ``columns``) with a ``sat_measured`` column
    after ``sat`` in an adaptive run (``measured`` given); unchanged otherwise."""
    if measured is None:
        return table
    a, b = columns
    flags = [bool(measured.loc[x, y]) for x, y in zip(table[a], table[b], strict=True)]
    marked = table.copy()
    where = marked.columns.get_loc("sat") + 1 if "sat" in marked.columns else len(marked.columns)
    marked.insert(where, "sat_measured", flags)
    return marked


__all__ = ["estimated_note", "mark_measured", "read_run_sat"]
