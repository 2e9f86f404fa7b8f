"""Weights: user-supplied local files (the offline path of the weights rule), hash checks,
pickles that would run code, and the message when a download is impossible."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from model_helpers import PAPER, REPO
from safetensors.torch import save_file

from satsim.models.factory import build_model
from satsim.models.weights import WeightsError, import_local_weights, load_model, write_card
from satsim.workflow.atomic import sha256_file

SPEC = PAPER["rexnet_150"]  # a real registry architecture, small enough to build in a second


@pytest.fixture(scope="module")
def random_state():
    torch.manual_seed(0)
    return build_model(SPEC).state_dict()


def test_local_safetensors_and_checkpoint_import_to_the_same_weights(tmp_path, random_state):
    plain = tmp_path / "rexnet.safetensors"
    save_file({k: v.contiguous() for k, v in random_state.items()}, str(plain))
    checkpoint = tmp_path / "rexnet.pth"  # a training checkpoint saved from DataParallel
    torch.save({"state_dict": {f"module.{k}": v for k, v in random_state.items()}}, checkpoint)

    first = import_local_weights(SPEC, plain, tmp_path / "a.safetensors", sha256_file(plain))
    second = import_local_weights(SPEC, checkpoint, tmp_path / "b.safetensors")
    assert first["weights_sha256"] == second["weights_sha256"]
    assert first["origin_sha256"] == sha256_file(plain)

    write_card(tmp_path / "a.json", SPEC, first["weights_sha256"])
    model, sha = load_model(SPEC, tmp_path / "a.safetensors", 1000, tmp_path / "a.json")
    assert sha == first["weights_sha256"]
    assert torch.equal(
        model.model.state_dict()["stem.conv.weight"], random_state["stem.conv.weight"]
    )


def test_a_file_with_another_hash_is_refused(tmp_path, random_state):
    plain = tmp_path / "rexnet.safetensors"
    save_file({k: v.contiguous() for k, v in random_state.items()}, str(plain))
    with pytest.raises(WeightsError, match="rexnet_150: .* has sha256 .* but the config expects"):
        import_local_weights(SPEC, plain, tmp_path / "out.safetensors", "0" * 64)
    assert not (tmp_path / "out.safetensors").exists()


def test_weights_of_another_architecture_are_refused(tmp_path):
    other = tmp_path / "resnet.safetensors"
    save_file(build_model(PAPER["resnet50"]).state_dict(), str(other))
    with pytest.raises(
        WeightsError, match="does not fit rexnet_150.nav_in1k .* missing keys, e.g. stem"
    ):
        import_local_weights(SPEC, other, tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


class Payload:
    """A pickled object: loading it with full pickle would run code."""


def test_a_pickle_that_needs_code_is_never_loaded(tmp_path):
    hostile = tmp_path / "hostile.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "extra": Payload()}, hostile)
    with pytest.raises(WeightsError, match="weights_only=True"):
        import_local_weights(SPEC, hostile, tmp_path / "out.safetensors")


def test_a_changed_weights_file_is_refused_by_its_card(tmp_path, random_state):
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in random_state.items()}, str(path))
    write_card(tmp_path / "w.json", SPEC, "f" * 64)
    with pytest.raises(ValueError, match="the weights file changed after it was made"):
        load_model(SPEC, path, 1000, tmp_path / "w.json")


def test_an_unknown_tag_names_the_model_and_the_registry_fix(tmp_path):
    from satsim.models.weights import fetch_pretrained

    bad = replace(SPEC, architecture="rexnet_150.no_such_tag")
    with pytest.raises(WeightsError, match="rexnet_150.*no pretrained weights.*rexnet_150.no_such"):
        fetch_pretrained(bad, tmp_path / "out.safetensors")


def test_offline_download_failure_names_model_tag_and_what_to_do(tmp_path):
    """HF_HUB_OFFLINE with an empty cache: the real download path, with no network needed."""
    code = (
        "from satsim.models.registry import load_registry\n"
        "from satsim.models.weights import fetch_pretrained\n"
        "spec = load_registry('configs/models/paper.yaml')['resnet50']\n"
        f"fetch_pretrained(spec, {str(tmp_path / 'w.safetensors')!r})\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    message = run.stderr.strip().splitlines()[-1]
    assert "WeightsError: model 'resnet50'" in message and "'resnet50.a1_in1k'" in message
    assert "HF_HUB_OFFLINE is set" in message and "models.local_weights.resnet50" in message
    assert not (tmp_path / "w.safetensors").exists()
