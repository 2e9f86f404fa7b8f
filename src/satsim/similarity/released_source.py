"""Where the authors' released SAT matrix comes from. Standard library only: the Snakefile asks
:func:`is_url` before any job, where pandas need not be installed."""

from __future__ import annotations

# The raw file (github.com's /blob/ address answers with an HTML page). The config schema's
# default for sat.released_matrix; tests/test_released_checks.py checks that they agree.
RELEASED_URL = "https://raw.githubusercontent.com/J-H-Hwang/SAT/main/SAT_release.csv"


def is_url(source: str) -> bool:
    """Whether ``sat.released_matrix`` is downloaded (http/https) rather than a local path."""
    return source.startswith(("http://", "https://"))
