"""The authors' released SAT matrix (``SAT_release.csv``): fetch it, parse it strictly, and
compare a run's own matrix with it.

Format: a CSV whose header row and first column are the same model names in the same order,
values SAT in natural log (ln of a transfer percentage, so at most ln(100) = 4.605), symmetric.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
import re
import shutil
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import adjusted_rand_score

from satsim.analysis.clusters import spectral_clusters
from satsim.similarity.released_source import RELEASED_URL, is_url
from satsim.workflow.atomic import atomic_path

LN_100 = math.log(100.0)  # the largest SAT: every adversarial image transfers
# Slack on the range checks: a file may round ln(100) = 4.605170... up in its last decimal.
RANGE_TOLERANCE = 1e-3


class ReleasedMatrixError(ValueError):
    """The released matrix is not a usable SAT matrix; the message says where and why."""


def looks_like_html(start: bytes | str) -> bool:
    """Whether a file's first bytes are markup (a web page saved or downloaded as the CSV)."""
    if isinstance(start, bytes):
        start = start.decode("utf-8", errors="replace")
    return start.lstrip("\ufeff \t\r\n").startswith("<")


def fetch_released(source: str, path: str | os.PathLike, timeout: float = 60.0) -> None:
    """Copy ``source`` (an http(s) URL or a local file) to ``path``, atomically."""
    with atomic_path(path) as tmp:
        if is_url(source):
            content = download(source, timeout)
            if looks_like_html(content[:1024]):
                # GitHub's github.com/.../blob/... address answers with the page around the file.
                raise ReleasedMatrixError(
                    f"{source} gave an HTML page, not a CSV: set sat.released_matrix to the raw "
                    f"file's address ({RELEASED_URL})"
                )
            Path(tmp).write_bytes(content)
        else:
            if not Path(source).is_file():
                raise ReleasedMatrixError(f"sat.released_matrix = {source}: no such file")
            shutil.copyfile(source, tmp)


def download(url: str, timeout: float) -> bytes:
    """The body at ``url``; a network failure says how to do without the network."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except OSError as error:
        raise ReleasedMatrixError(
            f"could not download the released SAT matrix from {url} ({error}). "
            "Download it where the network is and set sat.released_matrix to the local "
            "file."
        ) from error


def read_released(
    path: str | os.PathLike, known: Iterable[str], atol: float = 1e-6, eps_s: float | None = None
) -> pd.DataFrame:
    """Parse a released-format SAT matrix strictly.

    Checks: a comma-separated text table (not a web page); square; the header and the first
    column name the same models in the same order, each once; every value a finite number, at
    most ln(100) and, given ``eps_s`` (the run's ``sat.eps_s``, percent), at least ln(eps_s);
    symmetric within ``atol``; every name known (``known``: the registry's models). Each failure
    raises :class:`ReleasedMatrixError` whose first line names the file, the cause and the fix.
    """
    path = Path(path)
    check_is_a_csv_table(path)
    header, first_column = names_as_written(path)
    check_listed_once(path, header, "the header", "columns")
    check_listed_once(path, first_column, "the first column", "lines")
    try:
        frame = pd.read_csv(path, index_col=0)
    except (ValueError, pd.errors.ParserError) as error:
        raise ReleasedMatrixError(f"{path}: not a CSV table ({error})") from error
    rows, cols = (
        [str(name).strip() for name in frame.index],
        [str(c).strip() for c in frame.columns],
    )
    frame.index, frame.columns = rows, cols
    if len(rows) != len(cols):
        raise ReleasedMatrixError(f"{path}: {len(rows)} rows but {len(cols)} columns")
    if rows != cols:
        first = next(i for i, (r, c) in enumerate(zip(rows, cols, strict=True)) if r != c)
        raise ReleasedMatrixError(
            f"{path}: row and column names differ, first at position {first + 1}: "
            f"{rows[first]!r} vs {cols[first]!r}"
        )
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).all():
        i, j = np.argwhere(~np.isfinite(values))[0]
        raise ReleasedMatrixError(
            f"{path}: cell ({rows[i]}, {cols[j]}) is {as_written(frame.iat[i, j])}, not a "
            "finite number: every cell must hold SAT = ln(percent)"
        )
    check_sat_range(path, values, rows, eps_s)
    asymmetry = np.abs(values - values.T)
    if asymmetry.max() > atol:
        i, j = np.unravel_index(asymmetry.argmax(), asymmetry.shape)
        raise ReleasedMatrixError(
            f"{path}: not symmetric: ({rows[i]}, {cols[j]}) = {values[i, j]} but "
            f"({cols[j]}, {rows[i]}) = {values[j, i]}"
        )
    known = list(known)
    unknown = [name for name in rows if name not in known]
    if unknown:
        hints = [
            f"{name} (did you mean {' or '.join(close)}?)" if close else f"{name} (no close name)"
            for name in unknown
            for close in [close_names(name, known)]
        ]
        count = "1 model is" if len(unknown) == 1 else f"{len(unknown)} models are"
        raise ReleasedMatrixError(
            f"{path}: {count} not in the registry: {'; '.join(hints)}. Rename them in the file "
            "to the registry's names, or add them to a registry file (models.registry)"
        )
    return pd.DataFrame(values, index=rows, columns=cols)


def as_written(value: object) -> str:
    """A cell as a reader would write it: text quoted, a number plain (``nan``, never numpy's
    ``np.float64(nan)``)."""
    if isinstance(value, str):
        return repr(value.strip())
    number = float(value)  # type: ignore[arg-type]
    return "empty or NaN" if math.isnan(number) else f"{number:g}"


def _plain(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def close_names(name: str, known: list[str], n: int = 2) -> list[str]:
    """Registry names ``name`` may mean: the same letters and digits ('ResNet-50' -> resnet50),
    names it abbreviates ('Swin-T' -> swin_tiny_...), then close spellings."""
    plain = {_plain(candidate): candidate for candidate in reversed(known)}
    target = _plain(name)
    if target in plain:
        return [plain[target]]
    starting = [plain[key] for key in sorted(plain) if target and key.startswith(target)]
    if starting:
        return starting[:n]
    return [plain[key] for key in difflib.get_close_matches(target, list(plain), n=n, cutoff=0.6)]


def check_is_a_csv_table(path: Path) -> None:
    """Stop on what is not a CSV at all: an empty file or a web page saved under the CSV's name."""
    with open(path, "rb") as file:
        start = file.read(1024)
    if not start.strip():
        raise ReleasedMatrixError(
            f"{path}: the file is empty: download the released matrix again ({RELEASED_URL})"
        )
    if looks_like_html(start):
        raise ReleasedMatrixError(
            f"{path}: this is an HTML page, not a CSV: download the raw file ({RELEASED_URL}, "
            "GitHub's 'Raw' button), not the github.com/.../blob/... page"
        )


def names_as_written(path: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The header's model names with their column numbers and the first column's with their
    line numbers (both counted from 1 as in an editor), read before pandas renames a duplicated
    column ('x' -> 'x.1')."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as file:
        reader = csv.reader(file)
        header = next(reader)
        check_separator(path, header)
        first_column = [(reader.line_num, row[0].strip()) for row in reader if row]
    return [(column, name.strip()) for column, name in enumerate(header[1:], 2)], first_column


def check_separator(path: Path, header: list[str]) -> None:
    """A header that the commas leave in one piece: the file uses another separator."""
    if len(header) != 1:
        return
    for separator, said in ((";", "';'"), ("\t", "tabs")):
        if separator in header[0]:
            raise ReleasedMatrixError(
                f"{path}: separated by {said}, expected commas: save it as a comma-separated "
                "CSV (and with decimal points)"
            )
    raise ReleasedMatrixError(
        f"{path}: the header has a single field: expected a blank corner, then the model names, "
        "separated by commas"
    )


def check_listed_once(
    path: Path, positioned_names: list[tuple[int, str]], where: str, unit: str
) -> None:
    """Stop on the first model named more than once in ``where``, with every position."""
    positions: dict[str, list[int]] = {}
    for position, name in positioned_names:
        if name:  # a blank name is no model (the corner, trailing commas): later checks say so
            positions.setdefault(name, []).append(position)
    for name, at in positions.items():
        if len(at) > 1:
            times = "twice" if len(at) == 2 else f"{len(at)} times"
            listed = ", ".join(map(str, at[:-1])) + f" and {at[-1]}"
            raise ReleasedMatrixError(
                f"{path}: model {name!r} is listed {times} in {where} ({unit} {listed}): "
                "rename or remove one: each model must appear once"
            )


def check_sat_range(path: Path, values: np.ndarray, names: list[str], eps_s: float | None) -> None:
    """Stop on values no SAT can take: above ln(100), or below the floor ln(eps_s)."""
    if values.max() > LN_100 + RANGE_TOLERANCE:
        raise ReleasedMatrixError(above_ln_100_message(path, values, names))
    if eps_s is None:
        return
    floor = math.log(eps_s)
    if values.min() < floor - RANGE_TOLERANCE:
        i, j = np.unravel_index(values.argmin(), values.shape)
        raise ReleasedMatrixError(
            f"{path}: cell ({names[i]}, {names[j]}) is {values[i, j]:.4g}, below "
            f"ln(sat.eps_s) = ln({eps_s:g}) = {floor:.3f}, the lowest SAT: check that the file "
            "holds SAT = ln(percent), or lower sat.eps_s if the release used a smaller floor"
        )


def above_ln_100_message(path: Path, values: np.ndarray, names: list[str]) -> str:
    """Why values exceed ln(100): most likely the percentages themselves, not their ln."""
    if values.min() >= 0 and values.max() <= 100 + RANGE_TOLERANCE:
        diagonal = np.diag(values)
        said = (
            f"{np.median(diagonal):.4g}"
            if np.ptp(diagonal) < 0.05
            else f"{diagonal.min():.4g} to {diagonal.max():.4g}"
        )
        return (
            f"{path}: its diagonal is {said} and values reach {values.max():.4g}, above "
            f"ln(100) = {LN_100:.3f}: this looks like transfer percentages, not SAT = ln(percent); "
            "convert each value v with ln(max(v, sat.eps_s))"
        )
    i, j = np.unravel_index(values.argmax(), values.shape)
    return (
        f"{path}: cell ({names[i]}, {names[j]}) is {values[i, j]:.4g}, above ln(100) = "
        f"{LN_100:.3f}, the largest SAT: check that the file holds SAT = ln(percent)"
    )


def off_diagonal(sat: pd.DataFrame) -> pd.Series:
    """The upper-triangle entries, indexed by (model_a, model_b)."""
    i, j = np.triu_indices(len(sat), k=1)
    index = pd.MultiIndex.from_arrays([sat.index[i], sat.index[j]], names=["model_a", "model_b"])
    return pd.Series(sat.to_numpy(dtype=float)[i, j], index=index)


def compare_matrices(
    ours: pd.DataFrame, theirs: pd.DataFrame, top_k: int, n_clusters: int, seed: int
) -> tuple[dict[str, float], pd.DataFrame]:
    """How well a run's SAT matrix reproduces another over their shared models.

    Returns the summary (number of shared models and pairs, Spearman and Pearson correlation of
    the off-diagonal entries, the overlap of the ``top_k`` most similar pairs, the adjusted Rand
    index of the two spectral clusterings) and the paired entries (for the scatter plot).
    """
    shared = [name for name in ours.index if name in theirs.index]
    if len(shared) < 3:
        raise ReleasedMatrixError(
            f"only {len(shared)} models are in both matrices; a comparison needs at least 3"
        )
    ours, theirs = ours.loc[shared, shared], theirs.loc[shared, shared]
    pairs = pd.DataFrame({"ours": off_diagonal(ours), "theirs": off_diagonal(theirs)})
    k = min(top_k, len(pairs))
    top_ours = set(pairs["ours"].nlargest(k).index)
    top_theirs = set(pairs["theirs"].nlargest(k).index)
    clusters = min(n_clusters, len(shared) - 1)
    summary = {
        "n_models": len(shared),
        "n_pairs": len(pairs),
        "spearman": float(spearmanr(pairs["ours"], pairs["theirs"]).statistic),
        "pearson": float(pearsonr(pairs["ours"], pairs["theirs"]).statistic),
        "top_k": k,
        "top_k_overlap": len(top_ours & top_theirs) / k,
        "n_clusters": clusters,
        "cluster_ari": float(
            adjusted_rand_score(
                spectral_clusters(ours, clusters, seed), spectral_clusters(theirs, clusters, seed)
            )
        ),
    }
    return summary, pairs.reset_index()
