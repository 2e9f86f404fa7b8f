"""Which (source, target) pairs a run measures: every pair (``sat.pairs.strategy: all``, the
paper), or landmarks first and then each model's predicted nearest partners (``adaptive``).

Pure Python on model names and families, so the Snakefile can plan a DAG of a thousand models
without importing numpy or torch. The estimator that picks the nearest partners and fills in the
unmeasured cells is :mod:`satsim.similarity.completion`; the replay of the whole strategy on a
complete matrix is :mod:`satsim.similarity.adaptive`.

Landmarks are picked round by round over the families (the ``Base architecture`` component), in
the run's model order (``models.include`` order, else the registry's): the first model of each
family, then the second of each, and so on until there are ``k``. Spreading them over the
families measured better than taking them in run order: on 69-model matrices with the paper's
structure (k = 15, m = 10) the clusters of the estimate agreed with the true ones at ARI 0.87
against 0.79, and its own error estimate flattered less (``benchmarks/adaptive_replay.py``).

A model appended to the run keeps the landmarks when every landmark is taken in the first round
(k at most the number of families), or when its family already has a member in each round taken
(any new CNN among the paper's 39); naming them (``landmarks: [a, b, ...]``) fixes them whatever
is added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

Pair = tuple[str, str]  # (source, target)


def choose_landmarks(
    models: Sequence[str], families: Mapping[str, str], landmarks: int | Sequence[str]
) -> list[str]:
    """The run's landmark models, in run order.

    Args:
        models: the run's models, in run order.
        families: model -> family (base architecture); models without one are their own family.
            Families take turns, in order of their first model.
        landmarks: how many (k, at most the number of models), or the landmark names themselves.

    Raises:
        ValueError: naming the count or the unknown landmark.
    """
    if not isinstance(landmarks, int):
        named = list(dict.fromkeys(landmarks))
        unknown = [name for name in named if name not in models]
        if unknown:
            raise ValueError(
                f"sat.pairs.landmarks names {unknown[0]!r}, which is not a model of this run; "
                "name models of models.include (or the registry) or give a count"
            )
        if not named:
            raise ValueError("sat.pairs.landmarks is an empty list; name at least one model")
        order = {name: position for position, name in enumerate(models)}
        return sorted(named, key=order.__getitem__)
    if not 1 <= landmarks <= len(models):
        raise ValueError(
            f"sat.pairs.landmarks = {landmarks} must be between 1 and the number of models "
            f"({len(models)})"
        )
    groups: dict[str, list[str]] = {}
    for model in models:
        groups.setdefault(families.get(model, model), []).append(model)
    picked: list[str] = []
    for round_ in range(max(len(group) for group in groups.values())):
        for group in groups.values():
            if round_ < len(group) and len(picked) < landmarks:
                picked.append(group[round_])
    order = {name: position for position, name in enumerate(models)}
    return sorted(picked, key=order.__getitem__)


def landmark_pairs(models: Sequence[str], landmarks: Iterable[str]) -> set[Pair]:
    """Every model against every landmark in both directions, plus every model against itself
    (the white-box diagonal): the pairs of the adaptive strategy's first pass."""
    landmarks = list(landmarks)
    pairs = {(model, model) for model in models}
    for landmark in landmarks:
        for model in models:
            pairs.add((landmark, model))
            pairs.add((model, landmark))
    return pairs


def sources_by_target(models: Sequence[str], pairs: Iterable[Pair]) -> dict[str, list[str]]:
    """target -> the sources whose adversarial sets it evaluates, each list in run order."""
    chosen: dict[str, set[str]] = {model: set() for model in models}
    for source, target in pairs:
        chosen[target].add(source)
    return {target: [m for m in models if m in chosen[target]] for target in models}


def unordered(pairs: Iterable[Pair]) -> set[frozenset[str]]:
    """The model pairs (a SAT cell needs both directions) among directed ``pairs``."""
    pairs = set(pairs)
    return {frozenset(pair) for pair in pairs if (pair[1], pair[0]) in pairs}


def both_directions(cells: Iterable[tuple[str, str]]) -> set[Pair]:
    """The directed pairs that measure the SAT cells ``cells`` (each cell needs both)."""
    pairs = set()
    for a, b in cells:
        pairs.add((a, b))
        pairs.add((b, a))
    return pairs
