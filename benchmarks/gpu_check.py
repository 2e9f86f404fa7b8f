"""The prepared GPU check: what a lent GPU should confirm, in one call of under 8 minutes on one
GPU, written to one report.

    python benchmarks/gpu_check.py --out gpu_report               # on a GPU machine
    python benchmarks/gpu_check.py --out report --reduced         # on a CPU: every step, small

Steps, each a subprocess with its own time limit (a failing step is reported, the rest still
run):

1. ``environment``: torch, CUDA, the GPUs.
2. ``gpu_tests``: ``pytest -m gpu`` (device selection, CPU/GPU agreement, a real out-of-memory
   back-off, training on the device); they skip without CUDA.
3. ``throughput``: ``model_costs.py`` for five architectures in float32 and bf16 (channels-last,
   as the workflow runs them), then one model contiguous, to see what channels-last buys.
4. ``floor``: ``host_overhead.py``, the work per batch outside the model next to the model's.
5. ``workflow``: the tiny config on the device and on the CPU (or ``--reference-run``, a finished
   CPU run of the same config), compared: SAT, clean accuracy and white-box success.
6. ``throughput_compiled``: one model under ``torch.compile``, last, in whatever time is left.

``--reduced`` shrinks every step so the whole check runs on a CPU in CI (tests/test_benchmarks.py).
Writes ``report.json`` (every step's status, time, output and parsed numbers) and ``report.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from satsim.workflow.artifacts import read_provenance

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
TINY = REPO / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
GPU_TESTS = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"]
PAPER_MODELS = [
    "resnet50",
    "efficientnet_b2",
    "deit_small_patch16_224",
    "convnext_tiny",
    "rexnet_150",
]


def run_step(command: list[str], timeout: float, cwd: Path = REPO) -> dict:
    """Run one step's command in its own process group (a timeout kills its children too, e.g.
    Snakemake's jobs); its status, seconds and combined output."""
    start = time.perf_counter()
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    except OSError as error:
        return _result(command, f"failed to start ({error})", start, "")
    try:
        output, _ = process.communicate(timeout=max(1, timeout))
        status = "ok" if process.returncode == 0 else f"failed (exit {process.returncode})"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        status = f"timed out after {timeout:.0f} s"
    return _result(command, status, start, output)


def _result(command: list[str], status: str, start: float, output: str) -> dict:
    return {
        "command": " ".join(command),
        "status": status,
        "seconds": round(time.perf_counter() - start, 1),
        "output": (output or "")[-20_000:],
    }


def environment() -> dict:
    lines = [
        f"torch {torch.__version__}, CUDA {torch.version.cuda}, python {sys.version.split()[0]}"
    ]
    for index in range(torch.cuda.device_count()):
        properties = torch.cuda.get_device_properties(index)
        lines.append(f"cuda:{index} {properties.name}, {properties.total_memory / 2**30:.0f} GiB")
    if not torch.cuda.is_available():
        lines.append("no CUDA GPU: device steps run on the CPU")
    return {"command": "(in process)", "status": "ok", "seconds": 0.0, "output": "\n".join(lines)}


def throughput_steps(device: str, reduced: bool) -> dict[str, list[str]]:
    """model_costs.py command lines: every model in float32 and bf16, then one model contiguous
    and one compiled."""
    script = [sys.executable, str(BENCHMARKS / "model_costs.py"), "--device", device]
    if reduced:
        sizes = ["--images", "2", "--steps", "1", "--batch-size", "2", "--canonical-size", "64"]
        models = ["resnet50"]
    else:
        sizes, models = ["--images", "128", "--batch-size", "64"], PAPER_MODELS
    every_model, one_model = (
        [*script, "--models", *models, *sizes],
        [*script, "--models", models[0], *sizes],
    )
    return {
        "throughput_fp32": every_model,
        "throughput_bf16": [*every_model, "--autocast", "bf16"],
        "throughput_contiguous": [*one_model, "--contiguous"],
        "throughput_compiled": [*one_model, "--compile"],
    }


def floor_step(device: str, reduced: bool) -> list[str]:
    command = [sys.executable, str(BENCHMARKS / "host_overhead.py"), "--device", device]
    if reduced:
        command += ["--images", "8", "--size", "32", "--steps", "2", "--repeats", "1"]
        command += ["--arch", "resnet10t", "--threads", "1"]
    else:
        command += ["--arch", "resnet50"]
    return command


def workflow_step(
    device: str, reference_run: Path | None, deadline: float, work: Path | None = None
) -> dict:
    """The tiny config on ``device``, and on the CPU unless ``reference_run`` is a finished CPU
    run of it, in ``work`` (default: a new temporary folder), both before ``deadline``
    (``time.monotonic()``); their SAT matrices, clean accuracies and white-box success compared."""
    work = Path(tempfile.mkdtemp(prefix="gpu_check_")) if work is None else work
    runs = {"device": work / "device", "cpu": reference_run or work / "cpu"}
    steps = {}
    for name, devices in (("device", device), ("cpu", "cpu")):
        if name == "cpu" and reference_run is not None:
            continue
        runs[name].mkdir(parents=True, exist_ok=True)
        command = [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--cores", "all"]
        command += ["--configfile", str(TINY)]
        command += ["--config", f"compute={{device: {devices}, batch_size: 500}}"]
        if devices == "cuda":
            command += ["--resources", "gpu=4"]  # tiny models: let jobs share the GPU
        steps[name] = run_step(command, deadline - time.monotonic(), cwd=runs[name])
    failed = [f"{name}: {s['status']}" for name, s in steps.items() if s["status"] != "ok"]
    result = {
        "command": "; ".join(s["command"] for s in steps.values()),
        "status": "ok" if not failed else "failed (" + ", ".join(failed) + ")",
        "seconds": sum(s["seconds"] for s in steps.values()),
        "output": "\n".join(s["output"][-5000:] for s in steps.values()),
    }
    if not failed:
        result["numbers"] = compare_runs(runs["device"], runs["cpu"])
        result["output"] = json.dumps(result["numbers"], indent=1)
    return result


def compare_runs(device_run: Path, cpu_run: Path) -> dict:
    """How far the device's run is from the CPU's: SAT and transfer rates (max |difference|),
    clean accuracy and white-box success per model."""

    def read(run: Path, name: str) -> pd.DataFrame:
        return pd.read_csv(run / "results" / "tiny" / name, index_col=0)

    def white_box(run: Path) -> dict[str, float]:
        files = sorted((run / "results" / "tiny" / "adversarial").glob("*.safetensors"))
        return {f.stem: read_provenance(f)["white_box_success"] for f in files}

    sat = {
        name: read(run, "sat/sat.csv") for name, run in (("device", device_run), ("cpu", cpu_run))
    }
    rate = {
        name: read(run, "sat/transfer_rate.csv")
        for name, run in (("device", device_run), ("cpu", cpu_run))
    }
    return {
        "sat_identical": bool(sat["device"].equals(sat["cpu"])),
        "sat_max_abs_difference": float((sat["device"] - sat["cpu"]).abs().max().max()),
        "transfer_rate_max_abs_difference": float((rate["device"] - rate["cpu"]).abs().max().max()),
        "clean_accuracy": {
            "device": read(device_run, "reports/clean_accuracy.csv")["accuracy"].to_dict(),
            "cpu": read(cpu_run, "reports/clean_accuracy.csv")["accuracy"].to_dict(),
        },
        "white_box_success": {"device": white_box(device_run), "cpu": white_box(cpu_run)},
    }


def write_report(out: Path, steps: dict[str, dict], reduced: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps({"reduced": reduced, "steps": steps}, indent=1))
    lines = ["# GPU check" + (" (reduced, CPU)" if reduced else ""), ""]
    lines += ["| step | status | seconds |", "|---|---|---|"]
    lines += [f"| {name} | {step['status']} | {step['seconds']} |" for name, step in steps.items()]
    for name, step in steps.items():
        lines += ["", f"## {name}", "", f"`{step['command']}`", "", "```", step["output"], "```"]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for report.json / .md")
    parser.add_argument("--reduced", action="store_true", help="small sizes, for a CPU (CI)")
    parser.add_argument("--reference-run", type=Path, help="a finished CPU run of the tiny config")
    parser.add_argument("--skip", nargs="*", default=[], help="steps to leave out")
    parser.add_argument("--keep-runs", type=Path, help="run the workflow step in this folder")
    parser.add_argument("--budget", type=int, default=450, help="seconds for the whole check")
    parser.add_argument("--step-limit", type=int, default=150, help="seconds for one step")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    deadline = time.monotonic() + args.budget

    # The GPU tests first (they matter most), torch.compile last (it may not pay, or finish).
    throughput = throughput_steps(device, args.reduced)
    compiled = throughput.pop("throughput_compiled")
    planned = {"environment": None, "gpu_tests": GPU_TESTS, **throughput}
    planned |= {"floor": floor_step(device, args.reduced), "workflow": None}
    planned["throughput_compiled"] = compiled
    steps: dict[str, dict] = {}
    for name, command in planned.items():
        if any(name.startswith(skipped) for skipped in args.skip):
            continue
        # No step may take more than its share: the whole call must end within --budget.
        remaining = deadline - time.monotonic()
        limit = min(240 if name == "gpu_tests" else args.step_limit, remaining)
        if name == "environment":
            steps[name] = environment()
        elif remaining < 15:
            steps[name] = _result(
                command or [name], "skipped: out of time", time.perf_counter(), ""
            )
        elif name == "throughput_compiled" and args.reduced:
            reason = "skipped: reduced mode (compiling takes minutes on a CPU)"
            steps[name] = _result(command, reason, time.perf_counter(), "")
        elif name == "workflow":
            steps[name] = workflow_step(device, args.reference_run, deadline, args.keep_runs)
        else:
            steps[name] = run_step(command, limit)
        print(f"{name}: {steps[name]['status']} ({steps[name]['seconds']} s)", flush=True)
        write_report(args.out, steps, args.reduced)  # a step that hangs the call loses nothing
    print(f"report: {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
