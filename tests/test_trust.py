"""Corrupted or foreign files are found, and named (issue 11): every artefact's tensors are
checked against the content hash in its header when read, and cross-file facts are compared."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from workflow_helpers import TINY_CONFIG, copy_run, planned_jobs, snakemake

from satsim.workflow.artifacts import ContentMismatch, load_tensors, open_rows, save_tensors
from satsim.workflow.atomic import partial_dir

TINY = Path("results") / "tiny"


def _overwrite_in_place(path: Path, offset_from_end: int, data: bytes) -> None:
    """Change bytes inside a file without changing its size or modification time, as a stray
    write or a bad disk would."""
    stat = path.stat()
    with open(path, "r+b") as handle:
        handle.seek(stat.st_size - offset_from_end)
        handle.write(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_file_changed_after_writing_is_refused_with_its_path(tmp_path):
    path = tmp_path / "clean.safetensors"
    save_tensors(path, {"pred": torch.arange(100)}, {"kind": "test"})
    assert torch.equal(load_tensors(path)[0]["pred"], torch.arange(100))
    _overwrite_in_place(path, 80, (99).to_bytes(8, "little"))
    with pytest.raises(ContentMismatch, match=f"{path}: its contents changed after it was"):
        load_tensors(path)


def _adversarial_file(path: Path) -> None:
    images = torch.randint(0, 256, (20, 3, 4, 4), generator=torch.Generator().manual_seed(0))
    tensors = {"images": images.to(torch.uint8), "index": torch.arange(20)}
    save_tensors(path, {**tensors, "fooled": torch.ones(20, dtype=torch.bool)}, {"kind": "test"})


def test_rows_read_in_slices_are_checked_when_the_last_row_is_read(tmp_path):
    path = tmp_path / "adversarial.safetensors"
    _adversarial_file(path)
    rows = open_rows(path, "images")
    # Intact: a pass with a batch read twice (an out-of-memory retry) checks out.
    for start, stop in [(0, 8), (0, 4), (4, 8), (8, 16), (16, 20)]:
        rows[start:stop]
    _overwrite_in_place(path, 200, b"\x00\x01\x02")  # inside the images, not the small tensors
    rows = open_rows(path, "images")
    rows[0:16]
    with pytest.raises(ContentMismatch, match="adversarial.safetensors: its contents changed"):
        rows[16:20]


def test_sat_refuses_a_transfer_file_changed_in_place(tiny_run, tmp_path):
    """Issue 11, failure 3: ten predictions overwritten inside a transfer file (same size, same
    time) used to move a SAT entry silently."""
    run_dir = copy_run(tiny_run, tmp_path / "run")
    transfer = run_dir / TINY / "transfer" / "pit.safetensors"
    _overwrite_in_place(transfer, 90, bytes(80))  # ten int64 predictions set to class 0
    run = snakemake(run_dir, "--configfile", str(TINY_CONFIG), "-R", "sat_matrix")
    assert run.returncode != 0
    log = (run_dir / TINY / "logs" / "sat_matrix.log").read_text()
    # The log (which Snakemake prints) starts with the cause and the fix; the traceback follows.
    first = log.splitlines()[0]
    assert first.startswith(f"ERROR ContentMismatch: {TINY / 'transfer' / 'pit.safetensors'}: its")
    assert first.endswith("delete it and rerun the rule that makes it")
    assert (
        f"{TINY / 'logs' / 'sat_matrix.log'}:\n{'=' * 80}\nERROR ContentMismatch"
        in run.stdout + run.stderr
    )


def test_a_model_from_a_run_with_another_seed_is_refused(tiny_run, tmp_path):
    """Issue 11, failure 4: weights and card copied from a run with another seed (another
    train/eval split) were evaluated without a word, on images they may have trained on."""
    run_dir = copy_run(tiny_run, tmp_path / "run")
    card = run_dir / TINY / "models" / "gmlp.json"
    record = json.loads(card.read_text())
    record["eval_data_sha256"] = "0" * 64  # what another split's card records
    card.write_text(json.dumps(record))
    run = snakemake(run_dir, "--configfile", str(TINY_CONFIG), "--until", "clean_predictions")
    assert run.returncode != 0
    log = (run_dir / TINY / "logs" / "clean_predictions" / "gmlp.log").read_text()
    first = log.splitlines()[0]
    assert first.startswith(f"ERROR ProvenanceMismatch: {TINY / 'models' / 'gmlp.json'} was tested")
    assert first.endswith("rerun to train the model for this run.")


def test_a_write_killed_midway_leaves_no_finished_file_and_the_next_write_cleans_up(tmp_path):
    """Issue 11, failure 8: a kill during a large write left temporary files as big as the
    artefact that nothing removed."""
    target = tmp_path / "adversarial.safetensors"
    writer = textwrap.dedent(
        f"""
        import os, signal
        from satsim.workflow.atomic import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            tmp.write_bytes(b"half an artefact")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    run = subprocess.run([sys.executable, "-c", writer], capture_output=True)
    assert run.returncode == -signal.SIGKILL
    assert not target.exists()  # nothing that looks finished
    assert partial_dir(target).exists()  # the litter, under a name the next write knows
    save_tensors(target, {"x": torch.arange(3)}, {"kind": "test"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adversarial.safetensors"]


def test_an_output_lost_to_a_killed_forced_rerun_is_made_again(tiny_run, tmp_path):
    """Issue 11, failure 8: Snakemake removes a job's old output before a forced rerun; killed
    then, the adversarial set was gone and the next run said "Nothing to be done"."""
    run_dir = copy_run(tiny_run, tmp_path / "run")
    (run_dir / TINY / "adversarial" / "pit.safetensors").unlink()
    plan = planned_jobs(snakemake(run_dir, "--configfile", str(TINY_CONFIG), "-n"))
    assert plan["attack"] == 1 and plan["transfer"] == 3  # the transfers then reuse their pairs


def test_outputs_have_the_usual_permissions(tmp_path):
    path = tmp_path / "clean.safetensors"
    save_tensors(path, {"x": torch.arange(3)}, {"kind": "test"})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
