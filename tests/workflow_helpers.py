"""Running the real ``snakemake`` command from a test's working directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"
TINY = ["resnet10t", "pit", "gmlp"]  # the tiny run's models
FOURTH = "my_convnet"  # a model added to it: your own architecture (conftest.my_zoo_registry)
# What a clone holds that a run reads: the workflow's code, configs and environments.
WORKFLOW_PATHS = (
    "Snakefile",
    "rules",
    "scripts",
    "src",
    "schemas",
    "configs",
    "envs",
    "report",
    "notebooks",
    "profiles",
    "tests/configs",
)


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``snakemake --snakefile <repo>/Snakefile --cores 2 ARGS`` run in ``workdir``."""
    return subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--cores", "2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def planned_jobs(run: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> job count from a dry run's job table."""
    counts = {}
    for line in (run.stdout + run.stderr).splitlines():
        parts = line.split()
        if (
            len(parts) == 2
            and parts[1].isdigit()
            and parts[0].isidentifier()
            and parts[0] != "total"
        ):
            counts[parts[0]] = int(parts[1])
    return counts


def models_override(models: list[str], extra_registry: Path) -> str:
    """``--config`` value selecting ``models`` from the demo registry plus ``extra_registry``."""
    return (
        f"models={{registry: [configs/models/demo.yaml, {extra_registry}], "
        f"include: [{', '.join(models)}]}}"
    )


def copy_run(source: Path, destination: Path) -> Path:
    """A copy of a finished run's working directory, Snakemake's records and file times
    included, so that Snakemake sees the copy as finished too."""
    shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True)
    return destination


def pair_statuses(run_dir: Path, targets: list[str]) -> dict[str, list[str]]:
    """``computed`` / ``reused`` -> the pairs (``source -> target``) that the transfer logs of
    ``targets`` name."""
    statuses: dict[str, list[str]] = {"computed": [], "reused": []}
    for log in (run_dir / "logs" / "transfer" / f"{target}.log" for target in targets):
        for line in log.read_text().splitlines():
            status, _, rest = line.partition(" ")
            if status in statuses and " -> " in rest:
                statuses[status].append(rest.split(":")[0])
    return statuses
