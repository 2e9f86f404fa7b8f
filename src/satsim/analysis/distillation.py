"""Knowledge distillation against SAT: which teachers a student gets, and how the distilled
students compare with the same architecture trained without a teacher.

The teacher-student SAT is measured between the teacher and an independently trained copy of
the student's architecture: the run's own model of that architecture (the demo zoo's trained
model, or the paper run's pretrained one), which took part in the SAT matrix. The students
themselves are new networks trained from scratch with other seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

BASELINE = "none"  # the teacher wildcard of a student trained without a teacher


def pick_teachers(
    sat: pd.DataFrame, student: str, n_teachers: int, teachers: Sequence[str] = ()
) -> pd.DataFrame:
    """Teachers for ``student`` with their SAT to it: the given ``teachers``, or ``n_teachers``
    models spread evenly over the range of SAT to the student (the most and the least similar
    included), never the student's own architecture."""
    if student not in sat.index:
        raise KeyError(f"distillation student {student!r} is not among the run's models")
    similarity = sat.loc[student].drop(student).sort_values()
    if teachers:
        unknown = [name for name in teachers if name not in similarity.index]
        if unknown:
            raise KeyError(f"distillation teachers not among the run's models: {unknown}")
        chosen = list(teachers)
    else:
        count = min(n_teachers, len(similarity))
        positions = np.unique(np.linspace(0, len(similarity) - 1, count).round().astype(int))
        chosen = list(similarity.index[positions])
    return pd.DataFrame(
        {"student": student, "teacher": chosen, "sat": [float(similarity[t]) for t in chosen]}
    )


RUN_COLUMNS = ["student", "teacher", "seed", "accuracy", "n_eval_images"]


def distillation_runs(plan: pd.DataFrame, results: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per trained student (its result record: :data:`RUN_COLUMNS`) with the
    teacher-student SAT from the ``plan`` (:func:`pick_teachers`; NaN for the baseline)."""
    sat_of = {(row.student, row.teacher): row.sat for row in plan.itertuples()}
    runs = pd.DataFrame(list(results))[RUN_COLUMNS]
    outside = runs[~runs["accuracy"].between(0.0, 1.0)]
    if len(outside):
        row = outside.iloc[0]
        raise ValueError(
            f"the result of student {row.student!r} taught by {row.teacher!r} (seed {row.seed}) "
            f"has accuracy {row.accuracy}, not a fraction in [0, 1]: it was written before "
            "satsim stored accuracies as fractions; delete it and rerun its distill job"
        )
    runs["sat"] = [
        sat_of.get((s, t)) for s, t in zip(runs["student"], runs["teacher"], strict=True)
    ]
    return runs


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per (student, teacher): mean and spread over seeds of the distilled student's accuracy,
    and its gain over the same student architecture trained without a teacher (same seeds,
    data order and budget).

    ``results``: one row per (student, teacher, seed) with ``accuracy`` (a fraction in [0, 1],
    so the gains are fractions too: 0.01 is one percentage point) and ``sat`` (NaN for the
    baseline, whose teacher is :data:`BASELINE`).
    """
    baseline = results[results["teacher"] == BASELINE].groupby("student")["accuracy"].mean()
    distilled = results[results["teacher"] != BASELINE]
    table = (
        distilled.groupby(["student", "teacher"], sort=False)
        .agg(
            sat=("sat", "first"),
            n_seeds=("seed", "nunique"),
            accuracy_mean=("accuracy", "mean"),
            accuracy_min=("accuracy", "min"),
            accuracy_max=("accuracy", "max"),
        )
        .reset_index()
    )
    table["baseline_accuracy"] = table["student"].map(baseline)
    table["gain_mean"] = table["accuracy_mean"] - table["baseline_accuracy"]
    return table
