"""What satsim says when something is wrong (issue 19, the smaller items): the file named on a
registry's YAML error, plain numbers, suggestions for unknown names, the path of a write that
filled the disk, a log line for a corrupt stored pair, a warning with its fix when the GPU lock
folder is unusable, a factory model's outputs checked when it is built, no unsafe advice in a
refusal's traceback, and subset sizes refused rather than clamped. The same refusals as a user
sees them on screen, through Snakemake: test_refusals.py."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import torch
import yaml
from model_helpers import DEMO, PAPER, REPO
from torch import nn

from satsim.compute.gpus import LOCK_DIR_ENV, claim_gpu
from satsim.models.factory import FactoryError, build_model
from satsim.models.registry import load_registry
from satsim.models.weights import WeightsError, read_state_dict
from satsim.similarity.released import ReleasedMatrixError, close_names, read_released
from satsim.similarity.transfer import transfer_pairs
from satsim.workflow.artifacts import save_tensors
from satsim.workflow.atomic import DiskFull, atomic_path
from satsim.workflow.config import ConfigError, check_subset_sizes


def test_a_registry_with_a_python_tag_names_the_file_and_runs_nothing(tmp_path):
    registry = tmp_path / "mine.yaml"
    marker = tmp_path / "ran"
    registry.write_text(f"models:\n  mine: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ValueError) as error:
        load_registry(registry)
    first = str(error.value).splitlines()[0]
    assert first.startswith(f"{registry}, line 2: not a readable model registry (could not")
    assert "remove the tag" in first and "<unicode string>" not in str(error.value)
    assert not marker.exists()


def test_a_registry_that_is_not_yaml_names_the_file_and_line(tmp_path):
    registry = tmp_path / "mine.yaml"
    registry.write_text("models:\n  mine: [1, 2\n")
    with pytest.raises(ValueError, match=rf"^{registry}, line 3: not a readable .* fix the YAML"):
        load_registry(registry)


def _release(path: Path, cell: str) -> Path:
    """A 3-model release whose (a, b) and (b, a) cells hold ``cell`` as written."""
    names = list(PAPER)[:3]
    rows = [["", *names]]
    for i, name in enumerate(names):
        rows.append([name, *("4.6" if i == j else "2.0" for j in range(3))])
    rows[1][2] = rows[2][1] = cell
    path.write_text("\n".join(",".join(row) for row in rows) + "\n")
    return path


@pytest.mark.parametrize(("cell", "said"), [("", "empty or NaN"), ("nan", "empty or NaN")])
def test_a_released_cell_that_is_no_number_is_shown_plainly(tmp_path, cell, said):
    path = _release(tmp_path / "release.csv", cell)
    with pytest.raises(ReleasedMatrixError) as error:
        read_released(path, list(PAPER))
    first = str(error.value).splitlines()[0]
    names = list(PAPER)[:2]
    assert first.startswith(f"{path}: cell ({names[0]}, {names[1]}) is {said}, not a finite")
    assert "np." not in first and "float64" not in first


def test_a_released_cell_with_text_is_quoted(tmp_path):
    path = _release(tmp_path / "release.csv", "high")
    with pytest.raises(ReleasedMatrixError, match=r"is 'high', not a finite number"):
        read_released(path, list(PAPER))


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("ResNet-50", ["resnet50"]),  # the same letters and digits
        ("resnet_50", ["resnet50"]),
        ("Swin-T", ["swin_tiny_patch4_window7_224"]),  # an abbreviation
        ("deit_s", ["deit_small_patch16_224"]),
        ("vit_small_patch16", ["vit_small_patch16_224"]),
        ("ViT-S/16", []),  # nothing close: the message still says what to do
    ],
)
def test_unknown_names_in_a_release_get_suggestions(written, meant):
    assert close_names(written, list(PAPER)) == meant


def test_an_unknown_name_without_a_close_one_still_gets_the_fix(tmp_path):
    path = _release(tmp_path / "release.csv", "2.0")
    path.write_text(path.read_text().replace(list(PAPER)[2], "qqq"))
    with pytest.raises(ReleasedMatrixError) as error:
        read_released(path, list(PAPER))
    first = str(error.value).splitlines()[0]
    assert "1 model is not in the registry: qqq (no close name). Rename them" in first
    assert "models.registry" in first


@pytest.mark.skipif(
    not Path("/dev/full").exists() or not stat.S_ISCHR(Path("/dev/full").stat().st_mode),
    reason="needs Linux's /dev/full, a device whose every write fails with ENOSPC",
)
def test_a_full_disk_names_the_file_being_written_and_keeps_nothing(tmp_path):
    target = tmp_path / "sat.csv"
    with pytest.raises(DiskFull) as error:
        with atomic_path(target) as tmp:
            tmp.write_text("half a table")
            # A real ENOSPC from the kernel (only opened for writing: nothing replaces it).
            with open("/dev/full", "wb") as full:
                full.write(b"x" * 65536)
                full.flush()
    first = str(error.value).splitlines()[0]
    assert first.startswith(f"{target}: the disk is full")
    assert f"df -h {tmp_path}" in first and first.endswith("and rerun")
    assert list(tmp_path.iterdir()) == []  # no output, no staging folder


def test_other_write_errors_pass_through_unchanged(tmp_path):
    with pytest.raises(ValueError, match="^not a disk problem$"):
        with atomic_path(tmp_path / "x.csv") as tmp:
            tmp.write_text("half")
            raise ValueError("not a disk problem")
    assert list(tmp_path.iterdir()) == []


class _MeanColour(nn.Module):
    """A real (tiny) classifier: the mean colour of the image, then a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.mean(dim=(2, 3)))


def test_a_corrupt_stored_pair_is_recomputed_with_a_log_line(tmp_path, caplog):
    adversarial = tmp_path / "a.safetensors"
    images = torch.randint(0, 256, (8, 3, 8, 8), generator=torch.Generator().manual_seed(0))
    record = {"kind": "adversarial", "weights_sha256": "source", "attack": {"steps": 2}}
    save_tensors(adversarial, {"images": images.to(torch.uint8), "index": torch.arange(8)}, record)
    model, target = _MeanColour().eval(), {"name": "target"}

    def run():
        return transfer_pairs(
            model, target, "sha", {"a": adversarial}, tmp_path / "pairs", "none", 4
        )

    first = run()
    stored = tmp_path / "pairs" / "a.safetensors"
    data = bytearray(stored.read_bytes())
    data[-3] ^= 0xFF  # a flipped byte inside the predictions
    stored.write_bytes(bytes(data))
    with caplog.at_level(logging.INFO, logger="satsim.similarity.transfer"):
        again = run()
    assert again["a"].status == "computed" and torch.equal(again["a"].pred, first["a"].pred)
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert line.startswith(f"stored pair unreadable or corrupt, recomputing it: {stored}: its")


@pytest.mark.parametrize("kind", ["a file in its place", "under a file"])
def test_an_unusable_gpu_lock_folder_is_said_with_its_fix(tmp_path, caplog, capfd, kind):
    (tmp_path / "blocker").write_text("")
    directory = (
        tmp_path / "blocker" if kind == "a file in its place" else tmp_path / "blocker" / "x"
    )
    with caplog.at_level(logging.WARNING, logger="satsim.compute.gpus"):
        assert claim_gpu(["0", "1"], directory) == 0
    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"GPU lock folder {directory} cannot be used (")
    assert "runs on GPU 0 without a lock" in message and f"Set {LOCK_DIR_ENV} to" in message
    assert f"warning: {message}" in capfd.readouterr().err  # on the terminal too


def test_the_gpu_lock_folder_setting_is_documented():
    assert LOCK_DIR_ENV in (REPO / "docs" / "paper-run.md").read_text()


SEVEN = """
from torch import nn


class Pair(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3)), x.amax(dim=(2, 3))


def seven(num_classes=1000):
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 7))


def pair(num_classes=1000):
    return Pair()


def too_small(num_classes=1000):
    return nn.Sequential(nn.Conv2d(3, 4, 64), nn.Flatten(), nn.LazyLinear(num_classes))
"""


@pytest.mark.parametrize(
    ("factory", "said"),
    [
        ("seven", "gives 7 outputs per image at its input_size (24 x 24), but this run has 10"),
        (
            "pair",
            "the model returns a tuple for an image of its input_size (24 x 24), not a tensor",
        ),
        ("too_small", "the model fails on one image of its input_size (24 x 24): RuntimeError"),
    ],
)
def test_a_factory_model_is_checked_against_the_classes_when_built(tmp_path, factory, said):
    (tmp_path / "nets.py").write_text(SEVEN)
    entry = {
        "factory": f"nets.py:{factory}",
        "input_size": 24,
        "components": dict(DEMO["resnet10t"].components),
    }
    registry = tmp_path / "mine.yaml"
    registry.write_text(yaml.safe_dump({"models": {"mine": entry}}))
    spec = load_registry(registry)["mine"]
    with pytest.raises(FactoryError) as error:
        build_model(spec, num_classes=10)
    first = str(error.value).splitlines()[0]
    where = f"{registry}: model 'mine': factory '{tmp_path.resolve()}/nets.py:{factory}': "
    assert first.startswith(where + said), first
    assert build_model(spec) is not None  # no num_classes asked for: the factory's own


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_refused_pickle_leaves_no_unsafe_advice_in_the_traceback(tmp_path):
    """The job's log, which Snakemake prints, holds the whole traceback: torch's advice to
    retry with weights_only=False must not be in it (nor its chained exception)."""
    checkpoint = tmp_path / "model.pth"
    torch.save({"state_dict": _RunsCode(tmp_path / "ran")}, checkpoint)
    with pytest.raises(WeightsError) as error:
        read_state_dict(checkpoint)
    shown = "".join(traceback.format_exception(error.value))
    assert "weights_only=False" not in shown and "`weights_only` set to `False`" not in shown
    assert "Unsupported global: GLOBAL getattr" in str(error.value)
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    ("sizes", "eval_size", "computed", "refused"),
    [
        ([50, 500], 96, True, "similarity.subset_sizes: 500 is more than the 96 eval images"),
        ([200, 5000, 6000], 5000, True, "similarity.subset_sizes: 6000 is more than the 5000"),
        ([50, 96], 96, True, None),  # the whole eval set is a valid size
        ([], 96, True, None),  # the default grid
        ([50, 500], 96, False, None),  # a released run has no images-needed curve
    ],
)
def test_subset_sizes_above_the_eval_set_are_refused_with_the_range(
    sizes, eval_size, computed, refused
):
    config = {"data": {"eval_size": eval_size}, "similarity": {"subset_sizes": sizes}}
    if refused is None:
        check_subset_sizes(config, computed)
        return
    with pytest.raises(ConfigError) as error:
        check_subset_sizes(config, computed)
    assert str(error.value).startswith(refused)
    assert f"use sizes from 10 to {eval_size}" in str(error.value)


HUB_PICKLE = """
import sys, traceback
from satsim.models.registry import ModelSpec
from satsim.models.weights import fetch_pretrained
spec = ModelSpec("mine", "test_resnet.r160_in1k", 160, (0.5,) * 3, (0.5,) * 3, {})
try:
    fetch_pretrained(spec, sys.argv[1])
except Exception:
    traceback.print_exc()  # what a failed job's log (shown by Snakemake) holds
    sys.exit(1)
"""


@pytest.mark.slow  # a Python process importing torch and timm
def test_a_pickled_checkpoint_from_the_hub_is_refused_without_unsafe_advice(tmp_path):
    """A Hugging Face repository with only ``pytorch_model.bin`` (a pickle that would run code):
    timm reads it with weights_only=True, torch refuses, and neither satsim's message nor the
    traceback relays torch's advice to retry with weights_only=False."""
    repo = tmp_path / "hf" / "hub" / "models--timm--test_resnet.r160_in1k"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    torch.save({"state_dict": _RunsCode(tmp_path / "ran")}, snapshot / "pytorch_model.bin")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    run = subprocess.run(
        [sys.executable, "-c", HUB_PICKLE, str(tmp_path / "w.safetensors")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert "WeightsError: model 'mine': could not fetch the pretrained weights" in run.stderr
    assert "nothing from it ran" in run.stderr
    assert "weights_only=False" not in run.stderr and "`False`" not in run.stderr
    assert not (tmp_path / "ran").exists() and not (tmp_path / "w.safetensors").exists()


def test_subset_sizes_with_an_eval_set_below_the_smallest_size_say_to_leave_them_empty():
    config = {"data": {"eval_size": 5}, "similarity": {"subset_sizes": [10, 20]}}
    with pytest.raises(ConfigError) as error:
        check_subset_sizes(config, computed=True)
    assert str(error.value) == (
        "similarity.subset_sizes: 10, 20 are more than the 5 eval images (data.eval_size); "
        "leave it empty ([]) for 5 % to 100 % of the eval set"
    )
