"""Run configuration: schema validation with short messages that name the key.

Imports only jsonschema and yaml, so the Snakefile can use it where only Snakemake is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """The run configuration is invalid; the message names the key and what to do."""


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def config_errors(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """One line per schema violation, each naming the offending key."""
    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed))
            parent = _key_path(error)
            for key in unknown:
                where = key if parent == "(top level)" else f"{parent}.{key}"
                lines.append(f"unknown config key '{where}' (allowed here: {', '.join(allowed)})")
        elif "errorMessage" in error.schema:
            # The schema's own wording: a regular expression says little to a researcher.
            message = error.schema["errorMessage"]
            lines.append(f"config key '{_key_path(error)}' = {error.instance!r}: {message}")
        else:
            lines.append(f"config key '{_key_path(error)}': {error.message}")
    return lines


def load_schema(path: str | Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


_SCALAR_TYPES = {"integer": int, "number": (int, float), "boolean": bool}


def coerce_command_line_values(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Turn strings into the numbers or booleans the schema asks for, in place.

    ``snakemake --config attack='{steps: 3}'`` hands nested values over as strings ("3"), list
    items too (``seeds: [1, 2]``); read them as YAML where the schema wants a number or a boolean
    (also as one alternative of a ``oneOf``). Anything else is left for the validator to report.
    """
    for key, subschema in schema.get("properties", {}).items():
        if key in config:
            config[key] = _coerced(config[key], subschema)


def _type_names(schema: dict[str, Any]) -> list[str]:
    names = schema.get("type", [])
    return [names] if isinstance(names, str) else list(names)


def _coerced(value: Any, schema: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        coerce_command_line_values(value, schema)
        return value
    alternatives = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
    if isinstance(value, list):
        items = next((alt["items"] for alt in alternatives if "items" in alt), None)
        return [_coerced(item, items) for item in value] if items else value
    if isinstance(value, str):
        names = [name for alt in alternatives for name in _type_names(alt)]
        wanted = [_SCALAR_TYPES[name] for name in names if name in _SCALAR_TYPES]
        if wanted:
            parsed = yaml.safe_load(value)
            bool_unwanted = isinstance(parsed, bool) and bool not in wanted
            if not bool_unwanted and any(isinstance(parsed, kind) for kind in wanted):
                return parsed
    return value


def check_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` listing every invalid key of ``config`` (after reading
    command-line strings as the numbers or booleans the schema expects), one per line: the first
    line names the first bad key, not a heading."""
    schema = load_schema(schema_path)
    coerce_command_line_values(config, schema)
    errors = config_errors(config, schema)
    if errors:
        raise ConfigError("\n".join(errors))


DEMO_HINT = (
    "To try satsim without ImageNet, run the demo: "
    "snakemake --cores all --configfile configs/demo.yaml"
)


def check_imagenet_paths(data: dict[str, Any], resolve: Any = Path) -> None:
    """Stop at once, before any job, when the paper run's ImageNet folder is not usable.

    ``resolve`` turns a config path into a filesystem path (the Snakefile resolves shipped files
    relative to the workflow).
    """
    from satsim.data.imagenet_layout import ImageNetError, detect_layout

    root = data.get("imagenet_val")
    if not root:
        raise ConfigError(
            "data.imagenet_val is not set: the paper run needs your copy of the ILSVRC2012 "
            "validation images. Name it in config.yaml or on the command line: snakemake "
            "--cores all --use-conda --config data='{imagenet_val: /path/to/ILSVRC2012/val}'. "
            + DEMO_HINT
        )
    try:
        detect_layout(root)
    except ImageNetError as error:
        raise ConfigError(f"{error}. {DEMO_HINT}") from None
    for key in ("imagenet_labels", "imagenet_subset"):
        if data.get(key) and not Path(resolve(data[key])).is_file():
            raise ConfigError(f"data.{key} = {data[key]}: no such file")


def check_factory_weights(models: dict[str, Any], registry: Any, local: dict[str, Any]) -> None:
    """A factory model (your own architecture) has no weights to download: in a pretrained run
    it needs ``models.local_weights``; say so before any job."""
    if models["weights"] != "pretrained":
        return
    missing = [name for name, spec in registry.items() if spec.factory and name not in local]
    if missing:
        raise ConfigError(
            f"models {', '.join(map(repr, missing))} are built by a factory and have no weights "
            "to download: give each a file, e.g. models.local_weights."
            f"{missing[0]}: /path/to/weights.safetensors"
        )


def local_weights(models: dict[str, Any], registry: Any) -> dict[str, dict[str, str]]:
    """``models.local_weights`` as {model: {"path": ..., "sha256": ...}}, checked against the
    registry (unknown names get suggestions) and the filesystem."""
    entries = models.get("local_weights") or {}
    if entries and models["weights"] != "pretrained":
        raise ConfigError("models.local_weights applies only to models.weights: pretrained")
    checked = {}
    for name, entry in entries.items():
        check_registry_name(registry, name, "models.local_weights")
        entry = {"path": entry} if isinstance(entry, str) else dict(entry)
        if not Path(entry["path"]).is_file():
            raise ConfigError(f"models.local_weights.{name} = {entry['path']}: no such file")
        checked[name] = entry
    return checked


# Checks across keys, made once the registry is read: the model selection and the settings whose
# valid range depends on how many models it holds.


def check_registry_name(registry: Any, name: str, key: str) -> None:
    """A ConfigError naming ``key`` when ``name`` is not in ``registry``, with close matches."""
    try:
        registry.get_spec(name)
    except KeyError as error:
        raise ConfigError(f"{key}: {error.args[0]}") from None


def selected_models(models: dict[str, Any], registry: Any) -> Any:
    """The registry models of the run: ``models.include`` (empty: all) less ``models.exclude``,
    in include order. Every name must be in the registry; at least 2 must remain."""
    include = models.get("include") or []
    exclude = models.get("exclude") or []
    for key, names in (("models.include", include), ("models.exclude", exclude)):
        for name in names:
            check_registry_name(registry, name, key)
    # Excluding a model that include already leaves out is harmless: a shared exclude list can
    # serve several subsets.
    excluded = set(exclude)
    chosen = [name for name in include or registry if name not in excluded]
    if not chosen:
        source = "models.include" if include else "the registry"
        raise ConfigError(
            f"no models selected: models.exclude leaves out every model of {source}; "
            "remove names from models.exclude (or add some to models.include)"
        )
    if len(chosen) == 1:
        raise ConfigError(
            f"only 1 model selected ({chosen[0]!r}, from models.include/models.exclude): SAT "
            "compares models, so select at least 2"
        )
    return registry.subset(chosen)


def check_analysis_ranges(analysis: dict[str, Any], n_models: int, computed: bool) -> None:
    """Analysis settings that cannot work with ``n_models`` models stop the run now, not in
    their job hours later."""
    n_clusters = analysis["n_clusters"]
    if n_clusters > n_models:
        raise ConfigError(
            f"analysis.n_clusters = {n_clusters} is more than the {n_models} selected models; "
            f"set it between 2 and {n_models}, e.g. --config analysis='{{n_clusters: 2}}'"
        )
    # compare_released correlates off-diagonal pairs and clusters both matrices: 3 models at least.
    if computed and analysis.get("compare_released") and n_models < 3:
        raise ConfigError(
            f"analysis.compare_released needs at least 3 models, {n_models} selected; select "
            "more in models.include or set analysis.compare_released: false"
        )


SMALLEST_SUBSET = 10  # the schema's minimum of similarity.subset_sizes


def check_subset_sizes(config: dict[str, Any], computed: bool) -> None:
    """``similarity.subset_sizes`` larger than the eval set (``data.eval_size``) stop the run
    now: the images-needed curve would otherwise claim sizes it never measured."""
    sizes = (config.get("similarity") or {}).get("subset_sizes") or []
    eval_size = config["data"]["eval_size"]
    too_large = [int(n) for n in sizes if int(n) > eval_size]
    if not (computed and too_large):
        return
    said = (
        f"similarity.subset_sizes: {', '.join(map(str, too_large))} "
        f"{'is' if len(too_large) == 1 else 'are'} more than the {eval_size} eval images "
        "(data.eval_size)"
    )
    if eval_size < SMALLEST_SUBSET:  # no size the schema allows fits
        raise ConfigError(f"{said}; leave it empty ([]) for 5 % to 100 % of the eval set")
    fitting = sorted({int(n) for n in sizes if int(n) <= eval_size} or {eval_size})
    raise ConfigError(
        f"{said}; use sizes from {SMALLEST_SUBSET} to {eval_size}, e.g. --config "
        f"similarity='{{subset_sizes: {fitting}}}', or [] for 5 % to 100 % of the eval set"
    )


DIGITS_IMAGES = 1797  # scikit-learn's digits (tests check it against load_digits)


def check_eval_counts(config: dict[str, Any], computed: bool) -> None:
    """Counts that must fit in the eval set stop the run now, with the allowed range: the
    digits' eval split (the rest trains the demo zoo) and ``similarity.gradient_images``."""
    data = config["data"]
    eval_size = data["eval_size"]
    if data["source"] == "digits" and not 1 <= eval_size < DIGITS_IMAGES:
        raise ConfigError(
            f"data.eval_size = {eval_size}: the digits data has {DIGITS_IMAGES} images and the "
            f"models train on those not in the eval set; use 1 to {DIGITS_IMAGES - 1} "
            "(the demo uses 500)"
        )
    gradient_images = (config.get("similarity") or {}).get("gradient_images")
    if computed and gradient_images is not None and gradient_images > eval_size:
        raise ConfigError(
            f"similarity.gradient_images = {gradient_images} is more than the {eval_size} eval "
            f"images (data.eval_size); use 1 to {eval_size}, e.g. --config "
            f"similarity='{{gradient_images: {eval_size}}}'"
        )


def named_teachers(distillation: dict[str, Any]) -> list[str]:
    """``distillation.teachers`` when it names models; [] when it is a count."""
    teachers = distillation.get("teachers", 3)
    return [] if isinstance(teachers, int) else list(teachers)


def check_distillation(
    distillation: dict[str, Any], registry: Any, selected: list[str], runs: bool
) -> None:
    """Students and named teachers must be registry models (a typo stops even a run that skips
    distillation). When distillation ``runs``, they must also be among the ``selected`` models:
    teachers are chosen by SAT to the student's architecture, and only selected models have SAT
    values. A student outside the selection stops the run rather than being dropped, since
    dropping it would silently change fig6; a skipped distillation needs neither."""
    students = distillation.get("students") or []
    teachers = named_teachers(distillation)
    for key, names in (("distillation.students", students), ("distillation.teachers", teachers)):
        for name in names:
            check_registry_name(registry, name, key)
    if not runs:
        return
    for key, names in (("distillation.students", students), ("distillation.teachers", teachers)):
        for name in names:
            if name not in selected:
                raise ConfigError(
                    f"{key}: {name!r} is not among the selected models (models.include), so it "
                    f"has no SAT values; add it to models.include or remove it from {key} "
                    "(distillation.students: [] turns distillation off)"
                )
    for name in teachers:
        if name in students:
            raise ConfigError(
                f"distillation.teachers: {name!r} is also a student, and a student cannot be "
                "its own teacher; remove it from distillation.teachers or distillation.students"
            )


def model_count_notes(
    config: dict[str, Any], n_models: int, ensembles: bool, distill: bool
) -> list[str]:
    """Settings that ask for more than ``n_models`` models allow but still work (the job does
    what it can), for the run to print, one line each; ``ensembles`` and ``distill`` say whether
    those jobs run. A subset of the paper's models meets these with the paper's settings, so
    they are notes, not errors."""
    sizes = config.get("ensembles", {}).get("k", []) if ensembles else []
    notes = [
        f"ensembles.k = {k} is more than the {n_models} selected models: fig5 has no "
        f"{k}-model ensembles"
        for k in sizes
        if k > n_models
    ]
    teachers = config.get("distillation", {}).get("teachers", 3)
    if distill and isinstance(teachers, int) and teachers > n_models - 1:
        notes.append(
            f"distillation.teachers = {teachers}: each student gets the {n_models - 1} other "
            "selected models"
        )
    return notes


def check_pair_strategy(
    sat: dict[str, Any], models: list[str], families: dict[str, str], computed: bool
) -> list[str]:
    """The landmark models of an adaptive run (``sat.pairs``), checked against the selected
    ``models``; [] for ``strategy: all`` or a run on the released matrix. Landmark names are
    checked whatever the strategy, so a typo never waits for the day the strategy changes."""
    from satsim.similarity.pair_strategy import choose_landmarks  # standard library only

    pairs = sat.get("pairs") or {}
    landmarks = pairs.get("landmarks", 15)
    adaptive = computed and pairs.get("strategy", "all") == "adaptive"
    if isinstance(landmarks, int) and not adaptive:
        return []
    try:
        chosen = choose_landmarks(models, families, landmarks)
    except ValueError as error:
        if isinstance(landmarks, int):
            raise ConfigError(
                f"{error}; e.g. --config sat='{{pairs: {{landmarks: {min(15, len(models))}}}}}'"
            ) from None
        raise ConfigError(str(error)) from None
    return chosen if adaptive else []


def check_bundle_import(config: dict[str, Any], computed: bool) -> str | None:
    """The bundle folder of ``bundle.import`` (None when not importing), refused now if it holds
    no manifest or the run takes its SAT from the released matrix (nothing to import into)."""
    folder = (config.get("bundle") or {}).get("import")
    if not folder:
        return None
    if not computed:
        raise ConfigError(
            "bundle.import: a bundle holds a computed run; import it with the bundle's config "
            f"(--configfile {Path(folder) / 'config.yaml'}), not sat.source: released"
        )
    if not (Path(folder) / "manifest.json").is_file():
        raise ConfigError(
            f"bundle.import = {folder}: no manifest.json there; name the bundle folder that "
            "'snakemake bundle' wrote (results/<run>/bundle)"
        )
    return str(folder)
