"""Registries and model helpers shared by test modules (test modules import from here, never
from one another)."""

from __future__ import annotations

from pathlib import Path

import torch

from satsim.models.predict import predict_classes
from satsim.models.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
DEMO = load_registry(REPO / "configs" / "models" / "demo.yaml")
PAPER = load_registry(REPO / "configs" / "models" / "paper.yaml")


def correct_subset(model, digits, n=96):
    """(images, labels, ids) of the first ``n`` eval images that ``model`` classifies right."""
    images, labels, ids, *_ = digits
    pred = predict_classes(model, images)
    keep = torch.nonzero(pred == labels).flatten()[:n]
    return images[keep], labels[keep], ids[keep]
