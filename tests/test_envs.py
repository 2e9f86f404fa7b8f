"""Each rule's conda env lists every third-party package its script imports (directly or through
satsim), pinned at the version the tests run with. The envs cannot be built on our machines, so
this keeps them honest."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((REPO / "rules").glob("*.smk"))
RULE_BLOCK = re.compile(
    r"^\s*(?:rule|checkpoint) (\w+):\n(.*?)(?=^\s*(?:rule|checkpoint) \w+:|\Z)", re.M | re.S
)
DIRECTIVE = r"^\s*{name}:\s*\n\s*\"([^\"]+)\""


def rules_with_env_and_script() -> list[tuple[str, Path, Path]]:
    found = []
    for rule_file in RULE_FILES:
        for name, body in RULE_BLOCK.findall(rule_file.read_text()):
            script = re.search(DIRECTIVE.format(name="script"), body, re.M)
            conda = re.search(DIRECTIVE.format(name="conda"), body, re.M)
            assert script and conda, f"rule {name} in {rule_file.name} needs script: and conda:"
            found.append(
                (
                    name,
                    (rule_file.parent / conda[1]).resolve(),
                    (rule_file.parent / script[1]).resolve(),
                )
            )
    return found


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def third_party_imports(script: Path) -> set[str]:
    """Top-level third-party packages imported by ``script``, following satsim's own modules."""
    seen, todo, third_party = set(), [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top == "satsim":
                parts = module.split(".")
                candidate = REPO / "src" / Path(*parts)
                todo.append(
                    candidate.with_suffix(".py")
                    if candidate.with_suffix(".py").exists()
                    else candidate / "__init__.py"
                )
                todo.append(REPO / "src" / "satsim" / "__init__.py")
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return third_party


def env_pins(env_file: Path) -> dict[str, str]:
    dependencies = yaml.safe_load(env_file.read_text())["dependencies"]
    pip = next(item["pip"] for item in dependencies if isinstance(item, dict) and "pip" in item)
    pins = {}
    for requirement in pip:
        name, _, version = requirement.partition("==")
        pins[name.lower().replace("_", "-")] = version
    return pins


@functools.cache
def distribution(module: str) -> str:
    names = importlib.metadata.packages_distributions().get(module)
    assert names, f"no installed distribution provides the module {module!r}"
    return names[0].lower().replace("_", "-")


RULES = rules_with_env_and_script()


def test_every_rule_and_checkpoint_is_checked():
    declared = {
        name
        for rule_file in RULE_FILES
        for name in re.findall(r"^\s*(?:rule|checkpoint) (\w+):", rule_file.read_text(), re.M)
    }
    assert {rule for rule, *_ in RULES} == declared
    assert {"distillation_plan", "prepare_imagenet", "notebooks"} <= declared


@pytest.mark.parametrize("rule, env_file, script", RULES, ids=[rule for rule, *_ in RULES])
def test_env_lists_what_the_script_imports_at_tested_versions(rule, env_file, script):
    pins = env_pins(env_file)
    for module in sorted(third_party_imports(script)):
        dist = distribution(module)
        assert dist in pins, f"{env_file.name} (rule {rule}) lacks {dist} imported via {module}"
        installed = importlib.metadata.version(dist)
        assert pins[dist] == installed, (
            f"{env_file.name} pins {dist}=={pins[dist]} but the tests run {installed}"
        )


def test_env_files_pin_every_pip_package():
    for env_file in sorted((REPO / "envs").glob("*.yaml")):
        for name, version in env_pins(env_file).items():
            assert version, f"{env_file.name}: {name} is not pinned with =="


def test_notebook_env_lists_what_the_notebooks_import():
    pins = env_pins(REPO / "envs" / "notebook.yaml")
    for notebook in sorted((REPO / "notebooks").glob("*.py")):
        for module in sorted(third_party_imports(notebook)):
            dist = distribution(module)
            assert dist in pins, f"envs/notebook.yaml lacks {dist}, imported by {notebook.name}"
