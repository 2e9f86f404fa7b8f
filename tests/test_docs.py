"""The documentation agrees with the code: the configuration page is the schema's, the stage
table in docs/contributing.md names rules, scripts and functions that exist, every relative link
leads to a file, the README stays short, and every command it shows is run somewhere."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
README = REPO / "README.md"
SCHEMA = REPO / "schemas" / "config.schema.yaml"
TOOL = REPO / "tools" / "config_docs.py"


def config_docs():
    spec = importlib.util.spec_from_file_location("config_docs", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- docs/configuration.md is generated from the schema ---------------------------------------


def test_configuration_page_is_the_schemas():
    tool = config_docs()
    expected = tool.render(yaml.safe_load(SCHEMA.read_text()))
    current = (DOCS / "configuration.md").read_text()
    assert current == expected, (
        "docs/configuration.md is out of date with schemas/config.schema.yaml: "
        f"run `{tool.COMMAND}` and commit the result"
    )


def test_check_mode_fails_on_a_changed_schema(tmp_path):
    schema = yaml.safe_load(SCHEMA.read_text())
    schema["properties"]["seed"]["description"] = "a description the page does not have"
    changed = tmp_path / "schema.yaml"
    changed.write_text(yaml.safe_dump(schema, sort_keys=False))
    command = [sys.executable, str(TOOL), "--check", "--output", str(DOCS / "configuration.md")]
    current = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert current.returncode == 0, current.stdout + current.stderr
    stale = subprocess.run([*command, "--schema", str(changed)], capture_output=True, text=True)
    assert stale.returncode == 1
    assert "run `python tools/config_docs.py`" in stale.stdout


def _properties(schema: dict, path: str = ""):
    for name, child in schema.get("properties", {}).items():
        yield f"{path}{name}", child
        yield from _properties(child, f"{path}{name}.")


def test_every_config_key_is_described():
    schema = yaml.safe_load(SCHEMA.read_text())
    missing = [key for key, child in _properties(schema) if not child.get("description")]
    assert not missing, f"schemas/config.schema.yaml: add a description to {missing}"
    page = (DOCS / "configuration.md").read_text()
    for key, _ in _properties(schema):
        assert f"`{key}`" in page, key


# --- docs/contributing.md: stage -> rule file -> rule -> script -> library ---------------------

RULE = re.compile(r"^\s*(?:rule|checkpoint) (\w+):", re.M)
# ``use rule A as B with:`` makes B, running A's script unless it names its own.
USE_RULE = re.compile(r"^\s*use rule (\w+) as (\w+) with:", re.M)
SCRIPT = re.compile(r"^\s*script:\s*\n\s*[\"'](.+?)[\"']", re.M)


def rules_in(path: Path) -> dict[str, str | None]:
    """Each rule of a rule file, with the repository path of the script its ``script:`` names."""
    text = path.read_text()
    heads = list(RULE.finditer(text))
    rules = {}
    ends = [head.start() for head in heads[1:]] + [len(text)]
    for head, end in zip(heads, ends[: len(heads)], strict=True):
        body = text[head.end() : end]
        script = SCRIPT.search(body)
        rules[head.group(1)] = (
            (path.parent / script.group(1)).resolve().relative_to(REPO).as_posix()
            if script
            else None
        )
    for use in USE_RULE.finditer(text):
        rules.setdefault(use.group(2), rules.get(use.group(1)))
    return rules


def stage_table() -> list[dict[str, str]]:
    lines = (DOCS / "contributing.md").read_text().splitlines()

    def cells(line: str) -> list[str]:
        return [cell.strip().strip("`").strip() for cell in line.strip().strip("|").split("|")]

    header = ["stage", "rule file", "rule", "script", "library"]
    start = next(i for i, line in enumerate(lines) if cells(line) == header)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, cells(line), strict=True)))
    return rows


def test_stage_table_covers_every_rule_of_every_rule_file():
    documented = {
        (row["rule file"], rule.strip()) for row in stage_table() for rule in row["rule"].split(",")
    }
    actual = {
        (path.relative_to(REPO).as_posix(), rule)
        for path in sorted((REPO / "rules").glob("*.smk"))
        for rule in rules_in(path)
    }
    assert actual - documented == set(), (
        f"rules missing from the table in docs/contributing.md: {sorted(actual - documented)}"
    )
    assert documented - actual == set(), (
        f"docs/contributing.md names rules that are not in that rule file: "
        f"{sorted(documented - actual)}"
    )


@pytest.mark.parametrize("row", stage_table(), ids=lambda row: row["rule"])
def test_stage_table_row_matches_the_code(row):
    rule_file = REPO / row["rule file"]
    rules = rules_in(rule_file)
    script = REPO / row["script"]
    assert script.is_file(), f"{row['script']} does not exist"
    for rule in (name.strip() for name in row["rule"].split(",")):
        assert rules.get(rule) == row["script"], (
            f"rule {rule} in {row['rule file']} runs {rules.get(rule)}, the table says "
            f"{row['script']}"
        )
    source = script.read_text()
    for entry in (name.strip() for name in row["library"].split(",")):
        module_name, _, attribute = entry.rpartition(".")
        module = importlib.import_module(module_name)
        assert hasattr(module, attribute), f"{module_name} has no {attribute}"
        assert re.search(rf"\b{attribute}\b", source), f"{row['script']} does not use {entry}"


# --- links and length --------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", markdown_files(), ids=lambda path: path.name)
def test_relative_links_point_to_existing_files(page):
    text = FENCE.sub("", page.read_text())
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # a URL
        path, _, anchor = target.partition("#")
        linked = (page.parent / path) if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)}: links to missing files or headings: {broken}"


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown page."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", FENCE.sub("", page.read_text()), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def resolve(dotted: str) -> object:
    """The module, or attribute of a module, that a dotted name such as satsim.a.b.f names."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            target = getattr(target, name)
        return target
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("page", markdown_files(), ids=lambda path: path.name)
def test_library_names_in_the_docs_exist(page):
    """A module moved or a function renamed shows up here, not in a reader's ImportError."""
    for dotted in sorted(set(re.findall(r"`(satsim(?:\.\w+)+)`", page.read_text()))):
        try:
            resolve(dotted)
        except (ImportError, AttributeError) as error:
            pytest.fail(f"{page.relative_to(REPO)} names `{dotted}`: {error}")


def test_readme_is_a_short_doorway():
    lines = README.read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move details into docs/"
    assert "## Using the library" in lines


# --- every command the README shows is run by a test --------------------------------------------

TEST_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest"
IMAGENET = "--config data='{imagenet_val: /path/to/ILSVRC2012/val}'"

SETUP = "python3 -m venv .venv && . .venv/bin/activate && pip install -e ."
DEMO = f"{SETUP} && snakemake --cores all --configfile configs/demo.yaml"

# Each command of README.md -> where it runs: (test file, function in it that runs it), or
# (".ci/run", None) for a line that .ci/run holds verbatim, or ("README.md", command) for the
# leading part of another README command.
README_COMMANDS = {
    DEMO: ("tests/test_demo.py", "demo_run"),
    TEST_COMMAND: (".ci/run", None),
    SETUP: ("README.md", DEMO),  # the paper run's setup is the demo line's
    "snakemake --report report.html --configfile configs/demo.yaml": (
        "tests/test_demo.py",
        "demo_report",
    ),
    "snakemake bundle": ("tests/test_bundle.py", "exported"),
    # On a fake ImageNet folder, as dry runs:
    f"snakemake --until fetch_weights --cores 4 {IMAGENET}": (
        "tests/test_slurm.py",
        "test_readme_slurm_commands_plan_the_paper_dag",
    ),
    f"snakemake --cores all {IMAGENET}": (
        "tests/test_config.py",
        "test_paper_dag_plans_one_job_per_model_against_a_fake_imagenet",
    ),
}
COMMAND_START = re.compile(r"^(snakemake|python3?|pytest|pip) ")


def readme_commands() -> list[str]:
    """Shell lines of the README's bash blocks (comments dropped, continuations joined) and
    inline code spans that start with a command."""
    text = README.read_text()
    commands = []
    for block in re.findall(r"^```(?:bash|sh|console)\n(.*?)^```", text, re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(" ".join(line.split()))
    for span in re.findall(r"`([^`\n]+)`", FENCE.sub("", text)):
        if COMMAND_START.match(span):
            commands.append(" ".join(span.split()))
    return commands


def test_every_readme_command_is_run_by_a_test():
    unknown = [command for command in readme_commands() if command not in README_COMMANDS]
    assert not unknown, (
        f"README.md shows commands no test runs: {unknown}; run each from a test and list it "
        "in README_COMMANDS (tests/test_docs.py)"
    )
    ci = (REPO / ".ci" / "run").read_text()
    assert TEST_COMMAND in readme_commands() and TEST_COMMAND in ci.splitlines()
    for command in readme_commands():
        where, function = README_COMMANDS[command]
        source = (REPO / where).read_text()
        if where == "README.md":
            assert function.startswith(command) and function in readme_commands(), command
        elif function is None:
            assert command in source, f"{where} does not run `{command}`"
        else:
            assert re.search(rf"^def {function}\(", source, re.M), f"{where}: no {function}"
