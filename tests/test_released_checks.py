"""The released matrix's sanity checks (issue 11): percentages instead of SAT, values below the
floor, a model listed twice, an HTML page or a ';'-separated file each stop with one line naming
the file, the cause and the fix; and a local released file is an input, so editing it reruns the
job that reads it."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from synthetic_sat import write_release_csv
from workflow_helpers import REPO, planned_jobs, snakemake

from satsim.similarity import released
from satsim.similarity.released import ReleasedMatrixError, fetch_released, read_released
from satsim.similarity.released_source import RELEASED_URL, is_url

NAMES = ["resnet50", "resnet101", "cspresnet50", "vit_small_patch16_224", "deit_small_patch16_224"]


def sat_matrix(names: list[str] = NAMES, seed: int = 0) -> pd.DataFrame:
    """A symmetric SAT matrix in the release's unit: ln(percent), diagonal near ln(100)."""
    rng = np.random.default_rng(seed)
    percent = rng.uniform(5.0, 60.0, (len(names), len(names)))
    percent = (percent + percent.T) / 2
    np.fill_diagonal(percent, 99.5)
    return pd.DataFrame(np.log(percent), index=names, columns=names)


def first_line_of_error(path, **kwargs) -> str:
    """The first line of the message read_released stops with (it must stop)."""
    with pytest.raises(ReleasedMatrixError) as error:
        read_released(path, NAMES, **kwargs)
    return str(error.value).splitlines()[0]


def test_a_matrix_with_ln_100_on_the_diagonal_is_accepted(tmp_path):
    sat = sat_matrix()
    sat.iloc[0, 0] = np.log(100.0)  # the largest SAT there is, rounded to 6 decimals in the file
    parsed = read_released(write_release_csv(sat, tmp_path / "SAT_release.csv"), NAMES, eps_s=0.01)
    assert np.allclose(parsed, sat, atol=1e-6)


def test_a_matrix_in_percent_is_named_as_percentages(tmp_path):
    path = write_release_csv(np.exp(sat_matrix()).round(2), tmp_path / "percent.csv")
    line = first_line_of_error(path)
    assert str(path) in line
    assert "diagonal is 99.5" in line and "transfer percentages" in line and "ln(" in line


def test_a_value_above_ln_100_that_is_not_a_percentage_is_named(tmp_path):
    sat = sat_matrix()
    sat.iloc[1, 2] = sat.iloc[2, 1] = 250.0
    line = first_line_of_error(write_release_csv(sat, tmp_path / "big.csv"))
    assert "big.csv" in line and "(resnet101, cspresnet50)" in line and "ln(100)" in line


def test_a_value_below_the_floor_ln_eps_s_is_named(tmp_path):
    sat = sat_matrix()
    sat.iloc[0, 3] = sat.iloc[3, 0] = -9.0
    path = write_release_csv(sat, tmp_path / "low.csv")
    line = first_line_of_error(path, eps_s=0.01)
    assert str(path) in line and "(resnet50, vit_small_patch16_224)" in line
    assert "ln(sat.eps_s)" in line
    assert read_released(path, NAMES, eps_s=1e-4).iloc[0, 3] == -9.0  # ln(1e-4) = -9.2


@pytest.mark.parametrize("where", ["header", "first column"])
def test_a_model_listed_twice_is_named_with_both_positions(tmp_path, where):
    path = write_release_csv(sat_matrix(), tmp_path / "twice.csv")
    lines = path.read_text().splitlines()
    if where == "header":
        lines[0] = lines[0].replace("vit_small_patch16_224", "cspresnet50")
        expected = "model 'cspresnet50' is listed twice in the header (columns 4 and 5)"
    else:
        lines[4] = lines[4].replace("vit_small_patch16_224", "cspresnet50")
        expected = "model 'cspresnet50' is listed twice in the first column (lines 4 and 5)"
    path.write_text("\n".join(lines) + "\n")
    line = first_line_of_error(path)
    assert str(path) in line and expected in line
    assert "cspresnet50.1" not in line


@pytest.mark.parametrize(
    "page", ["<!DOCTYPE html>\n<html><body>SAT</body></html>\n", "\n  <html lang='en'>\n"]
)
def test_an_html_page_saved_as_csv_is_named_as_html(tmp_path, page):
    path = tmp_path / "SAT_release.csv"
    path.write_text(page)
    line = first_line_of_error(path)
    assert str(path) in line and "HTML page, not a CSV" in line
    assert "raw.githubusercontent.com" in line


@pytest.mark.parametrize(("separator", "named"), [(";", "';'"), ("\t", "tabs")])
def test_a_file_with_another_separator_is_named(tmp_path, separator, named):
    path = tmp_path / "SAT_release.csv"
    sat_matrix().to_csv(path, sep=separator, float_format="%.6f")
    line = first_line_of_error(path)
    assert str(path) in line and f"separated by {named}, expected commas" in line


def test_an_html_answer_from_a_url_is_named_at_download(tmp_path, monkeypatch):
    class Page:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b"<!DOCTYPE html><html>GitHub</html>"

    monkeypatch.setattr(released.urllib.request, "urlopen", lambda url, timeout: Page())
    url = "https://github.com/J-H-Hwang/SAT/blob/main/SAT_release.csv"
    with pytest.raises(ReleasedMatrixError) as error:
        fetch_released(url, tmp_path / "SAT_release.csv")
    line = str(error.value).splitlines()[0]
    assert url in line and "HTML page" in line and "raw.githubusercontent.com" in line
    assert not (tmp_path / "SAT_release.csv").exists()


SUBSET = ["resnet50", "resnet101", "vit_small_patch16_224", "deit_small_patch16_224"]


@pytest.mark.slow  # runs jobs of a config other than the tiny one: the long tier
def test_editing_a_local_released_file_reruns_the_job_that_reads_it(tmp_path):
    """Run the released config on a 4-model local file, edit one value, run again: the copy and
    released_sat rerun and sat.csv has the new value. A URL still plans the download rule."""
    matrix = write_release_csv(sat_matrix(SUBSET), tmp_path / "SAT_release.csv")
    args = ("--configfile", str(REPO / "configs" / "released.yaml"), "--config")
    args += (f"sat={{released_matrix: {matrix}}}", f"models={{include: {SUBSET}}}")
    args += ("analysis={n_clusters: 2}",)  # at most as many clusters as the 4 models
    target = ("--", "results/released/sat/sat.csv")
    first = snakemake(tmp_path, *args, *target)
    assert first.returncode == 0, first.stderr[-3000:]
    sat_csv = tmp_path / "results" / "released" / "sat" / "sat.csv"

    edited = pd.read_csv(matrix, index_col=0)
    edited.iloc[0, 1] = edited.iloc[1, 0] = 1.5
    write_release_csv(edited, matrix)
    later = sat_csv.stat().st_mtime + 2  # newer than the outputs whatever the clock's resolution
    os.utime(matrix, (later, later))
    second = snakemake(tmp_path, *args, *target)
    assert second.returncode == 0, second.stderr[-3000:]
    assert re.search(r"rule released_sat:", second.stdout + second.stderr)
    assert pd.read_csv(sat_csv, index_col=0).loc["resnet50", "resnet101"] == 1.5

    url = ("sat={released_matrix: https://example.org/SAT_release.csv}",)
    plan = planned_jobs(snakemake(tmp_path, *args[:-3], *url, *args[-2:], "--dry-run", *target))
    assert plan.get("fetch_released_matrix") == 1 and plan.get("released_sat") == 1


def test_the_schema_default_is_the_one_released_url():
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    default = schema["properties"]["sat"]["properties"]["released_matrix"]["default"]
    assert default == RELEASED_URL and is_url(default)
    assert not is_url("SAT_release.csv") and not is_url("/data/SAT_release.csv")
