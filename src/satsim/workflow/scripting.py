"""What every Snakemake script does first: log to the rule's log file, seed, set threads.

A rule whose results depend on the run's seed passes it as ``params.seed`` (so a new seed reruns
it, and only it); the others are seeded with a fixed 0, which keeps any library randomness
deterministic without making the seed a rerun trigger."""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, NoReturn, TextIO

import numpy as np


@contextlib.contextmanager
def script_session(
    smk: Any, seed_torch: Callable[[int, int], None] | None = None
) -> Iterator[TextIO]:
    """Run a rule's body with stdout, stderr, warnings and tqdm progress going to its log.

    Scripts that compute with torch pass ``seed_torch``
    (:func:`satsim.compute.runtime.make_deterministic`), called with the seed and the job's
    threads; the others never import torch, so their conda envs need not have it.

    Yields the log stream (pass it as ``progress=`` to long loops). A failure ends the script
    with exit status 1, so Snakemake reports the job as failed: the log starts with one line, the
    cause (satsim's messages name the file or key and the fix), and keeps the progress and the
    traceback below; the terminal gets that same line, and the log's path, first, and no
    traceback (:func:`exit_with_cause`).
    """
    log_path = Path(smk.log[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    failure: BaseException | None = None
    with open(log_path, "w", buffering=1) as log, redirect_stdout(log), redirect_stderr(log):
        logging.basicConfig(
            stream=log,
            level=logging.INFO,
            force=True,
            format="%(asctime)s %(levelname)s %(message)s",
        )
        logging.captureWarnings(True)
        seed = int(getattr(smk.params, "seed", 0))
        random.seed(seed)
        np.random.seed(seed % 2**32)
        if seed_torch is not None:
            seed_torch(seed, smk.threads)
        try:
            yield log
        except Exception as error:
            traceback.print_exc(file=log)
            failure = error
    if failure is not None:
        line = failure_line(failure)
        _put_first(log_path, line)
        exit_with_cause(line, log_path)


def exit_with_cause(line: str, log_path: Path) -> NoReturn:
    """End a failed job's script: the cause on the terminal, the traceback only in the log.

    A re-raised exception would print its traceback on the script's stderr, which Snakemake
    shows first; most users read the top of what it prints, so the cause goes there instead.
    """
    print(f"{line}\n  (the traceback is in {log_path})", file=sys.stderr, flush=True)
    raise SystemExit(1)


def failure_line(error: BaseException) -> str:
    """One line for the top of a failed job's log: the exception's type and first line."""
    message = str(error).strip().splitlines()
    return f"ERROR {type(error).__name__}: {message[0] if message else '(no message)'}"


def _put_first(log_path: Path, line: str) -> None:
    rest = log_path.read_text(errors="replace")
    log_path.write_text(f"{line}\n{rest}")
