"""The README's library example runs as written: in-memory models, images and labels to a SAT
matrix with library calls only (no files, no Snakemake).

The example is the first ```python block under the heading ``## Using the library`` of
README.md (or of the file named by ``SATSIM_README``, to try a new version of the example). It
runs with three names given: ``models`` (name -> a module reading [0, 1] images), ``images``
((N, 3, H, W) uint8) and ``labels`` ((N,) int64); it must leave ``sat`` (the SAT matrix, a
DataFrame) and ``attacks`` (name -> ``AttackResult``, for the diagonal's check) behind.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
import torch.nn.functional as F

from satsim.models.predict import predict_classes
from satsim.models.training import TrainSettings, train_classifier
from satsim.models.wrapper import CanonicalModel

REPO = Path(__file__).resolve().parents[1]
README = Path(os.environ.get("SATSIM_README", REPO / "README.md"))
HEADING = "## Using the library"
EPS_S = 0.01  # the example's floor (percent): SAT is at least ln(EPS_S)


def library_example(text: str) -> str | None:
    """The first ```python block of the section under :data:`HEADING` (up to the next ``##``
    heading); None if the section or the block is missing."""
    section = re.search(rf"^{re.escape(HEADING)}[ \t]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if section is None:
        return None
    block = re.search(r"^```python[ \t]*\n(.*?)^```", section.group(1), re.M | re.S)
    return block.group(1) if block else None


def run_example(code: str, namespace: dict) -> dict:
    """Execute the example in ``namespace`` (changed in place and returned)."""
    given = ", ".join(sorted(namespace))
    try:
        exec(compile(code, f"{README.name}: {HEADING}", "exec"), namespace)
    except NameError as error:
        pytest.fail(
            f"the example in {README} uses a name it neither defines nor is given "
            f"({given}): {error}"
        )
    return namespace


def tiny(architecture: str, seed: int, **kwargs) -> CanonicalModel:
    torch.manual_seed(seed)
    network = timm.create_model(architecture, num_classes=3, **kwargs)
    return CanonicalModel(network, input_size=32, mean=(0.5,) * 3, std=(0.5,) * 3)


@pytest.fixture(scope="module")
def zoo():
    """Three tiny timm models (two ResNets, one ViT) briefly trained on 48 smooth random 32 x 32
    images whose class is their dominant colour: untrained networks give one class for every
    image, which would leave the pairs without a common correct image to compare."""
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand((48, 3, 4, 4), generator=generator)
    images = (F.interpolate(coarse, size=32, mode="bilinear") * 255).round().to(torch.uint8)
    labels = images.float().mean(dim=(2, 3)).argmax(dim=1)
    resnet = {"channels": [4, 8, 8, 8], "stem_width": 4}
    vit = {"img_size": 32, "patch_size": 8, "embed_dim": 16, "depth": 1, "num_heads": 2}
    models = {
        "resnet10t": tiny("resnet10t", 0, **resnet),
        "resnet10t_b": tiny("resnet10t", 1, **resnet),
        "vit": tiny("vit_tiny_patch16_224", 2, **vit),
    }
    settings = TrainSettings(epochs=6, batch_size=24, lr=3e-2, weight_decay=0.0, max_shift_px=0)
    for model in models.values():
        train_classifier(model, images, labels, settings, seed=0)
        model.eval()
    correct = {name: predict_classes(m, images) == labels for name, m in models.items()}
    for a in models:
        for b in models:
            assert (correct[a] & correct[b]).sum() >= 5, f"{a} and {b}: too few common images"
    return models, images, labels


def test_the_example_is_found_under_its_heading_and_nowhere_else():
    text = "# t\n```python\nno = 1\n```\n## Using the library\n\nprose\n```python\nx = 1\n```\n"
    assert library_example(text) == "x = 1\n"
    assert library_example(text + "```python\ny = 2\n```\n") == "x = 1\n"  # the first block
    assert library_example("## Using the library\nno code\n## Next\n```python\nz\n```\n") is None
    assert library_example("# nothing here\n") is None


def test_the_readme_example_computes_a_sat_matrix(zoo):
    code = library_example(README.read_text(encoding="utf-8"))
    if code is None:
        pytest.skip(f"{README} has no ```python block under '{HEADING}' yet")
    models, images, labels = zoo
    namespace = run_example(code, {"models": models, "images": images, "labels": labels})

    sat = namespace["sat"]
    names = list(models)
    assert isinstance(sat, pd.DataFrame)
    assert list(sat.index) == names and list(sat.columns) == names
    values = sat.to_numpy(dtype=float)
    assert np.allclose(values, values.T)
    off = ~np.eye(len(names), dtype=bool)
    assert np.isfinite(values[off]).all()
    assert (values >= math.log(EPS_S) - 1e-12).all() and (values <= math.log(100.0) + 1e-12).all()
    # SAT(A, A) = ln(100 x white-box success): A's own adversarial images, judged by A again.
    for i, name in enumerate(names):
        attack = namespace["attacks"][name]
        n_attacked = len(attack.fooled)
        assert n_attacked == int((predict_classes(models[name], images) == labels).sum())
        white_box = max(EPS_S, 100.0 * attack.success_rate)
        # Within one image: the attack judges its images in its own batches.
        assert math.exp(values[i, i]) == pytest.approx(white_box, abs=100.0 / n_attacked)
