"""Bring your own architecture: a registry entry names a Python factory (``file.py:function`` or
``package.module:function``) instead of a timm architecture, with local safetensors weights."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from fake_imagenet import make_fake_imagenet
from safetensors.torch import save_file
from workflow_helpers import planned_jobs, snakemake

from satsim.models.factory import FactoryError, build_model, canonical_model, factory_module_name
from satsim.models.registry import ModelSpec, load_registry
from satsim.models.weights import WeightsError, fetch_pretrained, import_local_weights, load_model
from satsim.workflow.config import load_schema

REPO = Path(__file__).resolve().parents[1]
PAPER_REGISTRY = REPO / "configs" / "models" / "paper.yaml"

TINY_MODELS = textwrap.dedent(
    """
    import torch
    from torch import nn


    class TinyNet(nn.Module):
        def __init__(self, num_classes, width):
            super().__init__()
            self.conv1 = nn.Conv2d(3, width, 3, padding=1)
            self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
            self.head = nn.Linear(2 * width, num_classes)

        def forward(self, x):
            x = torch.relu(self.conv1(x))
            x = torch.relu(self.conv2(x))
            return self.head(x.mean(dim=(2, 3)))


    CALLS = []


    def make_net(num_classes=1000, width=4, **extra):
        CALLS.append({"num_classes": num_classes, "width": width, **extra})
        return TinyNet(num_classes, width)


    def make_strict_net(num_classes, width=4):
        return TinyNet(num_classes, width)


    def not_a_module(num_classes=1000):
        return "a string"


    NOT_CALLABLE = 3
    """
)


def write_registry(path: Path, entries: dict, components: dict) -> Path:
    models = {
        name: {"input_size": 24, "components": components, **e} for name, e in entries.items()
    }
    path.write_text(yaml.safe_dump({"models": models}, sort_keys=False))
    return path


@pytest.fixture
def components(demo_registry):
    return dict(next(iter(demo_registry.values())).components)


@pytest.fixture
def my_registry(tmp_path, components):
    """my_models.yaml next to tiny_models.py, naming it by a relative path."""
    (tmp_path / "tiny_models.py").write_text(TINY_MODELS)
    entry = {
        "factory": "tiny_models.py:make_net",
        "kwargs": {"width": 8, "dims": [1, 2]},
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
    }
    return write_registry(tmp_path / "my_models.yaml", {"tiny": entry}, components)


def test_a_factory_from_a_file_builds_a_model_that_reads_canonical_images(tmp_path, my_registry):
    spec = load_registry(my_registry)["tiny"]
    assert spec.factory == f"{tmp_path.resolve() / 'tiny_models.py'}:make_net"
    assert spec.architecture == "tiny_models.py:make_net"  # as written, for tables
    assert spec.registry_file == str(my_registry)

    network = build_model(spec, num_classes=10)
    seen = []
    network.conv1.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    model = canonical_model(spec, network).eval()
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    assert seen == [torch.Size([2, 3, 24, 24])]  # resized to the registry's input_size
    assert model.std.flatten().tolist() == [0.25, 0.25, 0.25]

    # kwargs are resolved as for timm (lists become tuples); num_classes overrides kwargs.
    calls = sys.modules[factory_module_name(spec.factory.rpartition(":")[0])].CALLS
    assert calls[-1] == {"num_classes": 10, "width": 8, "dims": (1, 2)}
    build_model(spec)  # no num_classes: the factory's own default
    assert calls[-1] == {"num_classes": 1000, "width": 8, "dims": (1, 2)}
    # The file is loaded once per process, under one stable module name.
    assert build_model(spec, num_classes=3).head.out_features == 3
    assert len(calls) == 3


def test_loading_a_registry_imports_neither_the_factory_nor_torch(my_registry):
    code = (
        "import sys; from satsim.models.registry import load_registry; "
        f"spec = load_registry({str(my_registry)!r})['tiny']; "
        "assert spec.factory.endswith('tiny_models.py:make_net'); "
        "leaked = [m for m in sys.modules if m.split('.')[0] in ('torch', 'timm') "
        "or m.startswith('satsim_factory')]; "
        "assert not leaked, leaked"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_the_description_round_trips_through_json(my_registry):
    spec = load_registry(my_registry)["tiny"]
    description = json.loads(json.dumps(spec.describe()))
    assert description["factory"] == spec.factory
    assert description["registry_file"] == str(my_registry)
    rebuilt = ModelSpec.from_description(description)
    assert rebuilt.describe() == spec.describe()
    assert rebuilt.factory == spec.factory and rebuilt.architecture == spec.architecture
    torch.manual_seed(0)
    first = build_model(spec, num_classes=10).state_dict()
    torch.manual_seed(0)
    second = build_model(rebuilt, num_classes=10).state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_timm_descriptions_have_no_factory_keys(demo_registry):
    # Snakemake reruns a job when its params change: timm models' descriptions stay as they were.
    spec = next(iter(demo_registry.values()))
    assert spec.factory is None
    assert "factory" not in spec.describe() and "registry_file" not in spec.describe()


def test_local_weights_of_a_factory_model_import_and_load(tmp_path, my_registry):
    spec = load_registry(my_registry)["tiny"]
    torch.manual_seed(1)
    trained = build_model(spec)
    source = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in trained.state_dict().items()}, str(source))

    record = import_local_weights(spec, source, tmp_path / "weights" / "tiny.safetensors")
    assert record["source"] == "local file" and record["origin"] == str(source)
    model, sha = load_model(spec, tmp_path / "weights" / "tiny.safetensors", 1000)
    assert sha == record["weights_sha256"]
    assert torch.equal(model.model.conv1.weight, trained.conv1.weight)

    other = tmp_path / "wide.safetensors"
    wide = build_model(ModelSpec.from_description({**spec.describe(), "kwargs": {"width": 16}}))
    save_file(wide.state_dict(), str(other))
    with pytest.raises(WeightsError, match=r"does not fit tiny_models.py:make_net .* state dict"):
        import_local_weights(spec, other, tmp_path / "out.safetensors")


def test_a_factory_model_has_no_pretrained_weights_to_fetch(tmp_path, my_registry):
    spec = load_registry(my_registry)["tiny"]
    with pytest.raises(WeightsError) as caught:
        fetch_pretrained(spec, tmp_path / "tiny.safetensors")
    message = str(caught.value)
    assert "'tiny'" in message
    assert "models.local_weights.tiny: /path/file.safetensors" in message
    with pytest.raises(FactoryError, match=r"my_models.yaml: model 'tiny': .*local_weights.tiny"):
        build_model(spec, pretrained=True)
    assert not (tmp_path / "tiny.safetensors").exists()


def test_a_factory_in_an_importable_package(tmp_path, components, monkeypatch):
    package = tmp_path / "site" / "satsim_test_byo_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(TINY_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "satsim_test_byo_pkg", raising=False)
    monkeypatch.delitem(sys.modules, "satsim_test_byo_pkg.nets", raising=False)
    entry = {"factory": "satsim_test_byo_pkg.nets:make_net", "kwargs": {"width": 2}}
    registry = load_registry(write_registry(tmp_path / "r.yaml", {"pkg_net": entry}, components))
    spec = registry["pkg_net"]
    assert spec.factory == spec.architecture == "satsim_test_byo_pkg.nets:make_net"
    model = canonical_model(spec, build_model(spec, num_classes=5)).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 32)).shape == (1, 5)
    rebuilt = ModelSpec.from_description(json.loads(json.dumps(spec.describe())))
    assert build_model(rebuilt, num_classes=5).conv1.out_channels == 2
    sys.modules.pop("satsim_test_byo_pkg.nets", None)
    sys.modules.pop("satsim_test_byo_pkg", None)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"factory": "missing.py:make_net"},
            r"r.yaml: model 'bad': factory 'missing.py:make_net': no such file .*missing.py",
        ),
        (
            {"factory": "make_net"},
            r"r.yaml: model 'bad': factory 'make_net' must be 'package.module:function'",
        ),
        (
            {"factory": "my-models/nets.txt:make_net"},
            r"r.yaml: model 'bad': factory .* neither a module name .* nor a Python file",
        ),
        (
            {"factory": "tiny_models.py:make_net", "architecture": "resnet18"},
            r"r.yaml: model 'bad' has both 'architecture' .* and 'factory'",
        ),
        ({}, r"r.yaml: model 'bad' lacks the key 'architecture' .* or 'factory'"),
        ({"factory": "tiny_models.py:make_net", "weights": "x"}, r"unknown keys \['weights'\]"),
    ],
)
def test_registry_errors_name_the_file_model_and_key(tmp_path, components, entry, message):
    (tmp_path / "tiny_models.py").write_text(TINY_MODELS)
    with pytest.raises(ValueError, match=message):
        load_registry(write_registry(tmp_path / "r.yaml", {"bad": entry}, components))


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        ("tiny_models.py:nope", {}, r"tiny_models.py has no function 'nope'"),
        ("tiny_models.py:NOT_CALLABLE", {}, r"NOT_CALLABLE is a int, not a function"),
        ("broken.py:make_net", {}, r"importing .*broken.py failed: RuntimeError: boom"),
        (
            "satsim_no_such_package.nets:make_net",
            {},
            r"importing the module 'satsim_no_such_package.nets' failed: ModuleNotFoundError",
        ),
        ("tiny_models.py:not_a_module", {}, r"returned a str, not a torch.nn.Module"),
        ("tiny_models.py:TinyNet", {"depth": 3}, r"calling it with \(depth=3, num_classes=10\)"),
    ],
)
def test_build_errors_name_the_file_model_and_key(tmp_path, components, factory, kwargs, message):
    (tmp_path / "tiny_models.py").write_text(TINY_MODELS)
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    entry = {"factory": factory, "kwargs": kwargs}
    registry = write_registry(tmp_path / "r.yaml", {"bad": entry}, components)
    spec = load_registry(registry)["bad"]
    with pytest.raises(FactoryError, match=rf"{registry}: model 'bad': factory .*{message}"):
        build_model(spec, num_classes=10)
    # The same error in a job's script, from the recorded description.
    with pytest.raises(FactoryError, match=rf"{registry}: model 'bad': .*{message}"):
        build_model(ModelSpec.from_description(spec.describe()), num_classes=10)


def test_a_factory_file_deleted_after_loading_is_named_at_build(tmp_path, my_registry):
    spec = load_registry(my_registry)["tiny"]
    (tmp_path / "tiny_models.py").unlink()
    with pytest.raises(FactoryError, match=r"my_models.yaml: model 'tiny': .*no such file"):
        build_model(spec)


def test_two_registries_merge_in_order(tmp_path, my_registry):
    paper = load_registry(PAPER_REGISTRY)
    merged = load_registry([PAPER_REGISTRY, my_registry])
    assert list(merged) == [*paper, "tiny"]
    assert merged["resnet50"] == paper["resnet50"]
    assert merged["tiny"].factory.endswith("tiny_models.py:make_net")
    assert merged.source == f"{PAPER_REGISTRY}, {my_registry}"
    assert merged["tiny"].components["Base architecture"] == "CNN"
    assert list(load_registry([my_registry])) == ["tiny"]  # a list of one is one file
    with pytest.raises(KeyError, match="not in the registry .*paper.yaml, .*my_models.yaml"):
        merged.get_spec("tinny")
    with pytest.raises(ValueError, match="no registry file given"):
        load_registry([])


def test_a_model_defined_in_two_registries_is_refused(tmp_path, components):
    copy = write_registry(
        tmp_path / "mine.yaml", {"resnet50": {"architecture": "resnet18"}}, components
    )
    with pytest.raises(ValueError, match=rf"'resnet50' .* {PAPER_REGISTRY} and {copy}"):
        load_registry([PAPER_REGISTRY, copy])


def test_the_config_schema_takes_one_registry_or_a_list():
    import jsonschema

    schema = load_schema(REPO / "schemas" / "config.schema.yaml")["properties"]["models"]
    for registry in ["configs/models/paper.yaml", ["configs/models/paper.yaml", "mine.yaml"]]:
        jsonschema.validate({"registry": registry, "weights": "pretrained"}, schema)
    for registry in [[], [3], 3]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"registry": registry, "weights": "pretrained"}, schema)


@pytest.mark.slow  # runs jobs of a config other than the tiny one: the long tier
def test_readme_command_puts_your_architecture_among_the_papers_69(
    tmp_path, my_registry, components
):
    """docs/paper-run.md's "Where does my architecture sit" command (less --use-conda: no conda in
    the tests) on a fake ImageNet: 70 models planned, and the weights job of your model runs for
    real (its factory, like the doc's, takes num_classes without a default). Without local
    weights for it, the run stops before any job."""
    registry = write_registry(
        tmp_path / "strict_models.yaml",
        {"strict": {"factory": "tiny_models.py:make_strict_net", "kwargs": {"width": 4}}},
        components,
    )
    spec = load_registry(registry)["strict"]
    weights = tmp_path / "strict.safetensors"
    save_file(
        {k: v.contiguous() for k, v in build_model(spec, 1000).state_dict().items()}, str(weights)
    )
    imagenet = tmp_path / "imagenet" / "val"
    make_fake_imagenet(imagenet, 3, "synset_folders")
    models = (
        f"models={{registry: [configs/models/paper.yaml, {registry}], "
        f"local_weights: {{strict: {weights}}}}}"
    )
    data = f"data={{imagenet_val: {imagenet}}}"
    paper = ("--configfile", str(REPO / "config.yaml"))  # what the repository root would read
    plan = snakemake(tmp_path, "-n", *paper, "--config", data, models)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    counts = planned_jobs(plan)
    assert counts["fetch_weights"] == counts["attack"] == counts["transfer"] == 70, counts

    fetched = snakemake(tmp_path, *paper, "--config", data, models, "--", WEIGHTS_OF_STRICT)
    assert fetched.returncode == 0, fetched.stdout[-3000:] + fetched.stderr[-3000:]
    card = json.loads((tmp_path / WEIGHTS_OF_STRICT).with_suffix(".json").read_text())
    assert card["source"] == "local file" and card["model"]["factory"].endswith("make_strict_net")

    mine = models.split(", local_weights")[0] + "}"
    without = snakemake(tmp_path, "-n", *paper, "--config", data, mine)
    assert without.returncode != 0
    assert "models.local_weights.strict" in without.stdout + without.stderr


WEIGHTS_OF_STRICT = "results/paper/models/strict.safetensors"
