"""The authors' released SAT matrix (``SAT_release.csv``): fetch it, parse it strictly, and
compare a run's own matrix with it.

Format: a CSV whose header row and first column are the same model names in the same order,
values SAT in natural log, symmetric.
"""

from __future__ import annotations

import difflib
import os
import shutil
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import adjusted_rand_score

from satsim.atomic import atomic_path
from satsim.cluster import spectral_clusters

RELEASED_URL = "https://raw.githubusercontent.com/J-H-Hwang/SAT/main/SAT_release.csv"


class ReleasedMatrixError(ValueError):
    """The released matrix is not a usable SAT matrix; the message says where and why."""


def fetch_released(source: str, path: str | os.PathLike, timeout: float = 60.0) -> None:
    """Copy ``source`` (an http(s) URL or a local file) to ``path``, atomically."""
    with atomic_path(path) as tmp:
        if source.startswith(("http://", "https://")):
            try:
                with urllib.request.urlopen(source, timeout=timeout) as response:
                    Path(tmp).write_bytes(response.read())
            except OSError as error:
                raise ReleasedMatrixError(
                    f"could not download the released SAT matrix from {source} ({error}). "
                    "Download it where the network is and set sat.released_matrix to the local "
                    "file."
                ) from error
        else:
            if not Path(source).is_file():
                raise ReleasedMatrixError(f"sat.released_matrix = {source}: no such file")
            shutil.copyfile(source, tmp)


def read_released(
    path: str | os.PathLike, known: Iterable[str], atol: float = 1e-6
) -> pd.DataFrame:
    """Parse a released-format SAT matrix strictly.

    Checks: square; the header and the first column name the same models in the same order, each
    once; every value a finite number; symmetric within ``atol``; every name known (``known``:
    the registry's models). Each failure raises :class:`ReleasedMatrixError` naming the file and
    the first offending names or cells.
    """
    path = Path(path)
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
    duplicated = sorted({name for name in rows if rows.count(name) > 1})
    if duplicated:
        raise ReleasedMatrixError(f"{path}: models listed twice: {', '.join(duplicated)}")
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).all():
        i, j = np.argwhere(~np.isfinite(values))[0]
        raise ReleasedMatrixError(
            f"{path}: cell ({rows[i]}, {cols[j]}) is {frame.iat[i, j]!r}, not a finite number"
        )
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
            f"{name} (did you mean {', '.join(close)}?)" if close else name
            for name in unknown
            for close in [difflib.get_close_matches(name, known, n=2)]
        ]
        raise ReleasedMatrixError(
            f"{path}: {len(unknown)} models are not in the registry: {'; '.join(hints)}"
        )
    return pd.DataFrame(values, index=rows, columns=cols)


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
