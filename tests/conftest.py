"""Shared fixtures: the digits data, one small timm CNN trained on it (seconds on a CPU), and the
committed tiny config run once per test session."""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from workflow_helpers import (
    FOURTH,
    TINY,
    TINY_CONFIG,
    WORKFLOW_PATHS,
    models_override,
    snakemake,
)

from satsim.data.digits import digits_images, eval_train_split
from satsim.models.factory import build_model, canonical_model
from satsim.models.registry import ModelSpec, load_registry
from satsim.models.training import TrainSettings, train_classifier

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEMO_REGISTRY = REPO / "configs" / "models" / "demo.yaml"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` skip, with the reason, where torch sees no CUDA GPU."""
    if torch.cuda.is_available():
        return
    no_gpu = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(no_gpu)


@pytest.fixture(scope="session")
def digits():
    """(eval images, eval labels, eval ids, train images, train labels) at 32 x 32."""
    images, labels = digits_images(32)
    eval_ids, train_ids = eval_train_split(len(labels), 200, seed=0)
    eval_ids, train_ids = torch.from_numpy(eval_ids), torch.from_numpy(train_ids)
    return images[eval_ids], labels[eval_ids], eval_ids, images[train_ids], labels[train_ids]


@pytest.fixture(scope="session")
def demo_registry():
    return load_registry(DEMO_REGISTRY)


def train_small(spec: ModelSpec, digits, epochs: int = 4, seed: int = 0):
    torch.manual_seed(seed)
    model = canonical_model(spec, build_model(spec, num_classes=10))
    *_, train_images, train_labels = digits
    settings = TrainSettings(epochs=epochs, batch_size=64, lr=2e-3, weight_decay=0.05)
    train_classifier(model, train_images, train_labels, settings, seed=seed)
    return model.eval()


@pytest.fixture(scope="session")
def small_cnn(digits):
    """A narrow timm ResNet trained for a few epochs: accurate enough to attack meaningfully."""
    spec = ModelSpec(
        name="small_resnet",
        architecture="resnet18",
        input_size=32,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        kwargs={"channels": [16, 32, 64, 128]},
    )
    return train_small(spec, digits)


def _file_states(root: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, modification time) of the files under ``root``, less Snakemake's
    own logs, locks and I/O cache (a dry run writes those)."""
    skip = {root / ".snakemake" / name for name in ("log", "locks", "iocache")}
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file() and not any(folder in path.parents for folder in skip)
    }


# What the tiny run's files depend on, besides the workflow's files: the versions of the packages
# that compute them.
RUN_PACKAGES = ("torch", "timm", "snakemake", "numpy", "scipy", "scikit-learn", "pandas")


def run_inputs_key() -> str:
    """A hash of every file the tiny run reads and of the packages it computes with."""
    digest = hashlib.sha256()
    for name in WORKFLOW_PATHS:
        root = REPO / name
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    for package in RUN_PACKAGES:
        digest.update(f"{package}={importlib.metadata.version(package)}".encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def tiny_run() -> Path:
    """The working directory of one finished run of ``tests/configs/tiny.yaml`` (3 models).

    Shared by every test of the session: read it (a dry run is reading), never change it; a test
    that reruns or edits the run works on its own copy (``workflow_helpers.copy_run``). The end of
    the session checks that no file of it changed.

    The run is kept in ``.test-runs/`` for the next session with the same code, configs and
    packages (``run_inputs_key``): the long tier after the default one (as ``.ci/run`` runs
    them) then reads the same run instead of making it again."""
    cache = REPO / ".test-runs"
    workdir = cache / f"tiny-{run_inputs_key()}"
    if not (workdir / "finished").is_file():
        shutil.rmtree(cache, ignore_errors=True)  # runs of older code
        workdir.mkdir(parents=True)
        run = snakemake(workdir, "--configfile", str(TINY_CONFIG))
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        (workdir / "finished").write_text("")
    before = _file_states(workdir)
    yield workdir
    after = _file_states(workdir)
    changed = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    assert not changed, f"a test changed the shared tiny run (work on copy_run's copy): {changed}"


MY_MODELS = textwrap.dedent(
    """
    from torch import nn


    def make_convnet(num_classes, width=8):
        \"\"\"A plain CNN: two 3x3 convolutions, global average pooling, a linear head.\"\"\"
        return nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.BatchNorm2d(2 * width),
            nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, num_classes),
        )
    """
)


@pytest.fixture(scope="session")
def my_zoo_registry(tmp_path_factory) -> Path:
    """A registry file naming a factory in a .py file beside it (the model added to the tiny
    run, ``FOURTH``), with its 13 components."""
    folder = tmp_path_factory.mktemp("my_models")
    (folder / "my_models.py").write_text(MY_MODELS)
    demo = yaml.safe_load(DEMO_REGISTRY.read_text())["models"]
    components = {**demo["resnet10t"]["components"], "Stem layer": "3s1", "Pooling (stem)": "No"}
    entry = {
        "factory": "my_models.py:make_convnet",
        "kwargs": {"width": 8},
        "input_size": 32,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "components": components,
    }
    path = folder / "my_registry.yaml"
    path.write_text(yaml.safe_dump({"models": {FOURTH: entry}}))
    return path


@pytest.fixture(scope="session")
def four_model_scratch_run(my_zoo_registry, tmp_path_factory) -> Path:
    """The tiny run's three models and ``FOURTH``, computed from scratch up to the SAT matrix:
    what adding the model to a finished run (or to an imported bundle) must equal."""
    workdir = tmp_path_factory.mktemp("scratch")
    add = models_override([*TINY, FOURTH], my_zoo_registry)
    run = snakemake(
        workdir, "--configfile", str(TINY_CONFIG), "--config", add, "--", "results/tiny/sat/sat.csv"
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir
