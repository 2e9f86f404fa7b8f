"""Model registries: the 13 components use the paper's vocabulary, and every demo model is a real
timm architecture that builds and classifies canonical images."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
import timm
import torch
from model_helpers import DEMO, PAPER, REPO

from satsim.models.component_labels import COMPONENT_COLUMNS, validate_components
from satsim.models.factory import build_model, canonical_model
from satsim.models.registry import load_registry

REFERENCE = REPO.parent / "shared" / "reference" / "model_components_release.csv"
FAMILIES = {"CNN", "Transformer", "MLP-Mixer", "Hybrid"}


def test_demo_zoo_is_large_and_diverse():
    assert len(DEMO) >= 12
    table = pd.DataFrame([spec.components for spec in DEMO.values()])
    assert FAMILIES <= set(table["Base architecture"])
    for column, minimum in [
        ("Stem layer", 3),
        ("Normalization", 3),
        ("Activation", 3),
        ("Pooling (final)", 2),
        ("Input resolution", 2),
    ]:
        assert table[column].nunique() >= minimum, column
    assert len({(spec.architecture, str(spec.kwargs)) for spec in DEMO.values()}) == len(DEMO)


@pytest.mark.parametrize("name", list(DEMO))
def test_demo_model_builds_and_reads_canonical_images(name):
    spec = DEMO[name]
    model = canonical_model(spec, build_model(spec, num_classes=10)).eval()
    assert str(spec.input_size) in spec.components["Input resolution"]
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10)


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared reference table not present")
def test_vocabulary_covers_the_authors_table():
    with REFERENCE.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[1:] == list(COMPONENT_COLUMNS)
    for row in rows:
        validate_components(row["Model name"], {c: row[c] for c in COMPONENT_COLUMNS})


def test_bad_component_value_names_model_and_column(tmp_path):
    text = (REPO / "configs" / "models" / "demo.yaml").read_text()
    first = next(iter(DEMO))
    bad = tmp_path / "registry.yaml"
    bad.write_text(text.replace("Normalization: BN", "Normalization: BatchNorm", 1))
    with pytest.raises(ValueError, match=r"Normalization = 'BatchNorm'"):
        load_registry(bad)
    with pytest.raises(KeyError, match="Did you mean"):
        DEMO.get_spec(first[:-1])


def test_paper_registry_pins_a_tag_for_each_of_the_69_models():
    assert len(PAPER) == 69
    pretrained = set(timm.list_pretrained())
    for spec in PAPER.values():
        assert spec.architecture in pretrained, f"{spec.name}: {spec.architecture} is no timm tag"


@pytest.mark.parametrize("name", list(PAPER))
def test_paper_model_instantiates_and_agrees_with_timm_pretrained_cfg(name):
    spec = PAPER[name]
    with torch.device("meta"):
        model = build_model(spec, num_classes=1000)
    cfg = model.pretrained_cfg
    assert cfg["input_size"][-1] == spec.input_size
    assert f"{spec.input_size} x {spec.input_size}" == spec.components["Input resolution"]
    assert tuple(cfg["mean"]) == pytest.approx(spec.mean)
    assert tuple(cfg["std"]) == pytest.approx(spec.std)
    assert cfg["crop_pct"] == pytest.approx(spec.crop_pct)
    assert cfg["interpolation"] == spec.interpolation


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared reference table not present")
def test_paper_components_match_the_authors_table():
    with REFERENCE.open() as handle:
        rows = {row["Model name"]: row for row in csv.DictReader(handle)}
    assert list(PAPER) == list(rows)
    for name, spec in PAPER.items():
        assert spec.components == {c: rows[name][c] for c in COMPONENT_COLUMNS}, name
