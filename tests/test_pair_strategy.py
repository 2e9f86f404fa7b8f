"""Landmarks and the pairs of the adaptive strategy's first pass (pure Python, plan time)."""

from __future__ import annotations

import pytest

from satsim.similarity.pair_strategy import (
    both_directions,
    choose_landmarks,
    landmark_pairs,
    sources_by_target,
    unordered,
)
from satsim.workflow.config import ConfigError, check_pair_strategy

FAMILIES = {"r1": "CNN", "r2": "CNN", "r3": "CNN", "v1": "ViT", "v2": "ViT", "m1": "MLP"}
MODELS = list(FAMILIES)


def test_families_take_turns_in_run_order():
    assert choose_landmarks(MODELS, FAMILIES, 2) == ["r1", "v1"]
    assert choose_landmarks(MODELS, FAMILIES, 3) == ["r1", "v1", "m1"]
    assert choose_landmarks(MODELS, FAMILIES, 4) == ["r1", "r2", "v1", "m1"]
    # The second round takes the second ViT before the third CNN.
    assert choose_landmarks(MODELS, FAMILIES, 5) == ["r1", "r2", "v1", "v2", "m1"]
    assert choose_landmarks(MODELS, {}, 2) == ["r1", "r2"]  # no families: run order


def test_appending_a_model_keeps_the_landmarks():
    before = choose_landmarks(MODELS, FAMILIES, 3)
    for family in ("CNN", "ViT", "Swin"):  # every landmark is taken in the first round
        families = {**FAMILIES, "new": family}
        assert choose_landmarks([*MODELS, "new"], families, 3) == before
    # Two rounds: a model of a family with a member in each round changes nothing.
    before = choose_landmarks(MODELS, FAMILIES, 5)
    assert choose_landmarks([*MODELS, "new"], {**FAMILIES, "new": "CNN"}, 5) == before


def test_named_landmarks_are_kept_in_run_order_and_checked():
    assert choose_landmarks(MODELS, FAMILIES, ["m1", "r2"]) == ["r2", "m1"]
    with pytest.raises(ValueError, match="'x1', which is not a model of this run"):
        choose_landmarks(MODELS, FAMILIES, ["r1", "x1"])
    with pytest.raises(ValueError, match="between 1 and the number of models"):
        choose_landmarks(MODELS, FAMILIES, 7)


def test_landmark_pass_measures_every_model_against_every_landmark_both_ways():
    pairs = landmark_pairs(MODELS, ["r1", "v1"])
    n, k = len(MODELS), 2
    # N diagonal pairs; k (N - 1) from the landmarks and as many to them, less the k (k - 1)
    # between two landmarks counted twice.
    assert len(pairs) == n + 2 * k * (n - 1) - k * (k - 1)
    assert ("r1", "m1") in pairs and ("m1", "r1") in pairs and ("m1", "r2") not in pairs
    sources = sources_by_target(MODELS, pairs)
    assert sources["m1"] == ["r1", "v1", "m1"]  # the landmarks and itself, in run order
    assert sources["r1"] == MODELS  # a landmark reads every model's adversarial set
    cells = unordered(pairs)
    assert frozenset(("m1", "r2")) not in cells and frozenset(("m1", "v1")) in cells
    assert both_directions([("m1", "r2")]) == {("m1", "r2"), ("r2", "m1")}


def test_config_check_names_the_key_and_a_fix():
    adaptive = {"pairs": {"strategy": "adaptive", "landmarks": 9}}
    with pytest.raises(ConfigError, match=r"sat.pairs.landmarks = 9 .*\(6\).*landmarks: 6"):
        check_pair_strategy(adaptive, MODELS, FAMILIES, computed=True)
    assert check_pair_strategy({"pairs": {"strategy": "all"}}, MODELS, FAMILIES, True) == []
    # A typo in named landmarks stops the run even while the strategy is all.
    named = {"pairs": {"strategy": "all", "landmarks": ["r1", "vit"]}}
    with pytest.raises(ConfigError, match="'vit'"):
        check_pair_strategy(named, MODELS, FAMILIES, computed=True)
    # The released matrix measures nothing: no landmarks.
    assert check_pair_strategy(adaptive, MODELS[:2], FAMILIES, computed=False) == []
