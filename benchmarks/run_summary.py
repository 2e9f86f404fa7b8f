"""Summarise a finished run: per-stage time from Snakemake's benchmark files, model accuracy,
white-box success and the spread of off-diagonal transfer rates.

    python benchmarks/run_summary.py results/demo
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from satsim.workflow.artifacts import read_provenance


def stage_times(run: Path) -> pd.DataFrame:
    rows = []
    for stage_dir in sorted(p for p in (run / "benchmarks").iterdir() if p.is_dir()):
        files = sorted(stage_dir.rglob("*.tsv"))  # distill nests student/teacher/seed
        seconds = [float(pd.read_csv(f, sep="\t")["s"].iloc[-1]) for f in files]
        rows.append(
            {
                "stage": stage_dir.name,
                "jobs": len(seconds),
                "sum_s": sum(seconds),
                "mean_s": np.mean(seconds),
                "max_s": max(seconds),
            }
        )
    return pd.DataFrame(rows).set_index("stage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="results/<run name>")
    run = parser.parse_args().run

    print("Per-stage job time (seconds; jobs of a stage run in parallel up to --cores):")
    print(stage_times(run).round(1).to_string(), "\n")

    sat = pd.read_csv(run / "sat" / "sat.csv", index_col=0)
    rate = pd.read_csv(run / "sat" / "transfer_rate.csv", index_col=0)
    models = list(sat.index)
    rows = []
    for model in models:
        card_path = run / "models" / f"{model}.json"
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        adversarial = read_provenance(run / "adversarial" / f"{model}.safetensors")
        rows.append(
            {
                "model": model,
                "test_accuracy": card.get("test_accuracy", math.nan),
                "white_box_%": 100 * adversarial["white_box_success"],
                "sat_diagonal": sat.loc[model, model],
            }
        )
    print(pd.DataFrame(rows).set_index("model").round(3).to_string(), "\n")

    values = sat.to_numpy()
    off = ~np.eye(len(models), dtype=bool)
    off_rates = rate.to_numpy()[off]
    print(
        f"{len(models)} models; SAT symmetric: {np.allclose(values, values.T)}; "
        f"min diagonal {values.diagonal().min():.3f} (ln 90 = {math.log(90):.3f}); "
        f"every off-diagonal below its row's diagonal: "
        f"{bool((values < values.diagonal()[:, None])[off].all())}"
    )
    q = np.nanpercentile(off_rates, [0, 10, 50, 90, 100])
    print(
        "off-diagonal transfer rate (%): min {:.1f}, p10 {:.1f}, median {:.1f}, p90 {:.1f}, "
        "max {:.1f}".format(*q)
    )


if __name__ == "__main__":
    main()
