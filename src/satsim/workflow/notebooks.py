"""Execute a jupytext notebook (percent-format ``.py``) against a run's results.

The notebook's cell tagged ``parameters`` holds defaults; the values for the run go in a cell
injected right after it (as papermill does), so the same notebook serves every run.
"""

from __future__ import annotations

import os
from typing import Any

import jupytext
import nbformat
from nbclient import NotebookClient

from satsim.workflow.atomic import atomic_path


def execute_notebook(
    source: str | os.PathLike,
    output: str | os.PathLike,
    parameters: dict[str, Any],
    cwd: str | os.PathLike,
    timeout: int = 600,
) -> None:
    """Run ``source`` (jupytext ``.py``) with ``parameters`` in a fresh Python kernel, working in
    ``cwd``, and write the executed ``.ipynb`` (outputs included) atomically to ``output``.

    A failing cell raises ``nbclient.exceptions.CellExecutionError`` naming the cell and error;
    nothing is written then.
    """
    notebook = jupytext.read(source)
    assignments = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(
        "# Parameters injected by satsim\n" + assignments,
        metadata={"tags": ["injected-parameters"]},
    )
    tagged = [
        index
        for index, existing in enumerate(notebook.cells)
        if "parameters" in existing.get("metadata", {}).get("tags", [])
    ]
    notebook.cells.insert(tagged[0] + 1 if tagged else 0, cell)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    for index, executed in enumerate(notebook.cells):
        # Same run, same bytes: no execution timestamps, and cell ids by position, not random.
        executed.id = f"cell-{index}"
        executed.metadata.pop("execution", None)
    with atomic_path(output) as tmp:
        nbformat.write(notebook, str(tmp))
