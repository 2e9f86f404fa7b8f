"""An adaptive run's analyses say which SAT cells they took from the estimate."""

from __future__ import annotations

import pandas as pd

from satsim.similarity.estimated_cells import estimated_note, mark_measured, read_run_sat

NAMES = ["a", "b", "c"]
MEASURED = pd.DataFrame(
    [[1, 1, 0], [1, 1, 1], [0, 1, 1]], index=pd.Index(NAMES, name="model"), columns=NAMES
)


def test_the_note_counts_the_estimated_pairs():
    assert estimated_note(MEASURED.astype(bool)).startswith(
        "adaptive run: 1 of the 3 model pairs of sat/sat.csv are estimated"
    )


def test_pair_tables_gain_a_column_after_sat_only_in_adaptive_runs():
    pairs = pd.DataFrame({"model_a": ["a", "a"], "model_b": ["b", "c"], "sat": [3.0, 1.0]})
    assert mark_measured(pairs, None) is pairs
    marked = mark_measured(pairs, MEASURED.astype(bool))
    assert list(marked.columns) == ["model_a", "model_b", "sat", "sat_measured"]
    assert marked["sat_measured"].tolist() == [True, False]
    plan = pd.DataFrame({"student": ["c"], "teacher": ["b"], "sat": [2.0]})
    assert mark_measured(plan, MEASURED, ("student", "teacher"))["sat_measured"].item()


def test_a_job_reads_the_mask_only_where_the_run_has_one(tmp_path, capsys):
    sat = tmp_path / "sat.csv"
    pd.DataFrame(1.0, index=pd.Index(NAMES, name="model"), columns=NAMES).to_csv(sat)
    measured = tmp_path / "measured.csv"
    MEASURED.to_csv(measured)
    frame, mask = read_run_sat({"sat": sat})
    assert mask is None and frame.shape == (3, 3)
    frame, mask = read_run_sat({"sat": sat, "measured": measured})
    assert not mask.loc["a", "c"] and mask.loc["a", "b"]
    assert "1 of the 3 model pairs" in capsys.readouterr().out
