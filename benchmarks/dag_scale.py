"""How planning the workflow scales with the number of models: ``snakemake -n`` of the tiny
config (tests/configs/tiny.yaml) on a synthetic registry of N demo architectures
(tools/synthetic_registry.py), in an empty working directory, so that every job is planned.

    python benchmarks/dag_scale.py [--models 69 200 1000] [--strategy all|adaptive]
        [--landmarks 15] [--neighbours 10] [--rounds 1] [--keep DIR]

Per N it prints one row:

- ``seconds``: wall time of the whole ``snakemake --dry-run`` process (Python start-up, reading
  the registry, building the DAG, printing the plan), run with ``--quiet host reason`` so that
  the job blocks, whose input lists the pairs are counted from, are printed, without the
  ``reason:`` line that repeats them (printing them costs no measurable time next to
  ``--quiet rules``); ``CPU seconds``: its user + system time, the figure to compare on a
  shared machine (Snakemake plans on one core);
- ``jobs``: the ``total`` of Snakemake's job-stats table (``transfer jobs``: its transfer and
  transfer_round rows);
- ``pair evaluations``: the distinct (source, target) pairs that the planned transfer jobs
  evaluate, counted from their ``input:`` lines (each ``adversarial/<source>`` file of a job
  whose model is the target). The last round's ``transfer`` jobs of an adaptive run re-read
  the earlier rounds' sources (reused from the pair store, not evaluated again), so the count
  is of distinct pairs; ``inputs read`` is the plain total;
- ``pair files``: what ``transfer_pairs/`` of a finished run holds, one file per distinct pair.
  For ``all`` that is the planned count (N²). For ``adaptive`` the neighbour pairs are picked by
  a checkpoint (``pair_plan``) after the landmark round, so a dry run plans only the landmark
  pairs (every model against every landmark both ways, plus the diagonal:
  N + 2Nk - k² - k); the column adds the bound of the neighbour rounds, at most
  2 (N - k) m per round, and says so with ``<=``.

CPU-heavy (a single core, minutes at N = 1,000): the N runs go one after the other.

``--costs`` runs nothing and prints instead the derived GPU cost table of the two strategies
(markdown, the assumptions under it): docs/paper-run.md's per-image costs (timm's published RTX
3090 AMP throughput, summed over the paper's 69 models), scaled to N models of the same mean
cost.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

_JOB_HEADER = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
_STATS_ROW = re.compile(r"^(\w+)\s+(\d+)$")


def _synthetic_registry_text(n_models: int) -> str:
    """tools/synthetic_registry.py's registry text (tools/ is not a package)."""
    path = REPO / "tools" / "synthetic_registry.py"
    spec = importlib.util.spec_from_file_location("synthetic_registry", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthetic_registry_text(n_models)


@dataclass
class Plan:
    """What one dry run planned."""

    seconds: float
    cpu_seconds: float
    jobs: dict[str, int]
    pairs: set[tuple[str, str]]
    inputs_read: int
    pending: int  # transfer jobs whose sources a checkpoint decides

    @property
    def total_jobs(self) -> int:
        return sum(count for rule, count in self.jobs.items() if rule != "total")

    @property
    def transfer_jobs(self) -> int:
        return sum(count for rule, count in self.jobs.items() if rule.startswith("transfer"))


def parse_dry_run(output: str) -> tuple[dict[str, int], set[tuple[str, str]], int, int]:
    """(rule -> job count, the distinct (source, target) pairs of the transfer jobs, the
    adversarial inputs they read in all, the transfer jobs whose inputs wait for a checkpoint
    (``<TBD>``)) from ``snakemake --dry-run`` output."""
    jobs: dict[str, int] = {}
    pairs: set[tuple[str, str]] = set()
    inputs_read = pending = 0
    rule = None
    inputs: list[str] = []
    in_stats = False
    for line in output.splitlines():
        header = _JOB_HEADER.match(line)
        if header:
            rule, inputs = header.group(1), []
            continue
        stripped = line.strip()
        if stripped.startswith("job ") and "count" in stripped:
            in_stats, jobs = True, {}  # the table may be printed twice; keep the last
            continue
        if in_stats:
            row = _STATS_ROW.match(stripped)
            if row:
                jobs[row.group(1)] = int(row.group(2))
                in_stats = row.group(1) != "total"
            continue
        if rule is None or not rule.startswith("transfer"):
            continue
        if stripped.startswith("input: "):
            inputs = [path for path in stripped[len("input: ") :].split(", ") if path]
            pending += "<TBD>" in inputs
        elif stripped.startswith("wildcards: "):
            fields = dict(item.split("=", 1) for item in stripped[len("wildcards: ") :].split(", "))
            target = fields["model"]
            sources = [
                Path(path).name.removesuffix(".safetensors")
                for path in inputs
                if "/adversarial/" in path
            ]
            inputs_read += len(sources)
            pairs.update((source, target) for source in sources)
            rule = None
    jobs.pop("total", None)
    return jobs, pairs, inputs_read, pending


def dry_run(n_models: int, workdir: Path, pairs_config: str | None) -> Plan:
    """``snakemake --dry-run`` of the tiny config on ``n_models`` synthetic models, timed."""
    registry = workdir / f"synthetic_{n_models}.yaml"
    registry.write_text(_synthetic_registry_text(n_models))
    config = [f"models={{registry: {registry}, include: []}}"]
    if pairs_config:
        config.append(pairs_config)
    run_dir = workdir / f"run_{n_models}"
    run_dir.mkdir(exist_ok=True)
    command = [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--cores",
        "1",
        "--dry-run",
        "--quiet",
        "host",
        "reason",
        "--configfile",
        str(TINY_CONFIG),
        "--config",
        *config,
    ]
    cpu_before = _children_cpu_seconds()
    start = time.perf_counter()
    run = subprocess.run(command, cwd=run_dir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    cpu_seconds = _children_cpu_seconds() - cpu_before
    output = run.stdout + run.stderr
    if run.returncode != 0:
        raise RuntimeError(f"snakemake failed at N = {n_models}:\n{output[-3000:]}")
    return Plan(seconds, cpu_seconds, *parse_dry_run(output))


def _children_cpu_seconds() -> float:
    """User + system CPU time of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def landmark_pair_count(n_models: int, landmarks: int) -> int:
    """Directed pairs of the adaptive strategy's landmark round: every model against every
    landmark in both directions plus the diagonal (satsim.similarity.pair_strategy)."""
    return n_models + 2 * n_models * landmarks - landmarks**2 - landmarks


def neighbour_pair_bound(n_models: int, landmarks: int, neighbours: int, rounds: int) -> int:
    """At most this many directed pairs added by the neighbour rounds: each non-landmark model
    picks ``neighbours`` unmeasured partners per round, each cell measured both ways."""
    return 2 * (n_models - landmarks) * neighbours * rounds


# docs/paper-run.md, "Expected cost": timm's published RTX 3090 AMP throughput summed over the
# paper's 69 models (results/benchmark-{train,infer}-amp-*-rtx3090.csv of
# huggingface/pytorch-image-models), one PGD step costing at most one training step.
PAPER_MODELS = 69
PGD_SECONDS_PER_IMAGE_STEP_ALL_69 = 0.173
EVAL_SECONDS_PER_IMAGE_ALL_69 = 0.047
EVAL_IMAGES = 5_000
ATTACK_STEPS = 10
ADVERSARIAL_IMAGES = 4_060  # per model: the images it classifies correctly (81 % of 5,000)
# A pair file (transfer_pairs/<target>/<source>.safetensors): the 8-byte header length, the JSON
# header (tensor offsets and the pair's key; 1,392-1,504 bytes measured on the tiny run, ~1.5 kB
# with the paper's longer model descriptions) and int64 index + int64 pred per adversarial image.
PAIR_HEADER_BYTES = 1_500


def pair_file_bytes(adversarial_images: int = ADVERSARIAL_IMAGES) -> int:
    """Size of one pair file."""
    return 8 + PAIR_HEADER_BYTES + 16 * adversarial_images


def adaptive_pairs(n_models: int, landmarks: int, neighbours: int, rounds: int) -> tuple[int, int]:
    """(fewest, most) directed pair evaluations of the adaptive strategy: the landmark round
    exactly, plus each non-landmark model's ``neighbours`` new cells per round, measured both
    ways; a cell that both of its models pick counts once (the fewest: every pick mutual)."""
    base = landmark_pair_count(n_models, landmarks)
    most = neighbour_pair_bound(n_models, landmarks, neighbours, rounds)
    return base + most // 2, base + most


def cost_table(sizes: list[int], landmarks: int, neighbours: int, rounds: int) -> str:
    """The derived cost table of both strategies at each N, with its assumptions (markdown)."""
    step = PGD_SECONDS_PER_IMAGE_STEP_ALL_69 / PAPER_MODELS
    evaluation = EVAL_SECONDS_PER_IMAGE_ALL_69 / PAPER_MODELS
    file_bytes = pair_file_bytes()
    rows = [
        "| N | strategy | directed pair evaluations | clean GPU-h | attack GPU-h "
        "| transfer GPU-h | total GPU-h | pair files | pair store |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def hours(seconds: float) -> str:
        return f"{seconds / 3600:,.1f}"

    def size(pairs: int) -> str:
        gigabytes = pairs * file_bytes / 1e9
        return f"{gigabytes:,.1f} GB" if gigabytes >= 1 else f"{gigabytes * 1e3:,.0f} MB"

    for n_models in sizes:
        clean = n_models * EVAL_IMAGES * evaluation
        attack = n_models * ADVERSARIAL_IMAGES * ATTACK_STEPS * step
        strategies = [("all", n_models**2, n_models**2)]
        if landmarks < n_models:
            strategies.append(
                (
                    f"adaptive (k={landmarks}, m={neighbours}, {rounds} round"
                    f"{'s' if rounds > 1 else ''})",
                    *adaptive_pairs(n_models, landmarks, neighbours, rounds),
                )
            )
        for name, fewest, most in strategies:
            transfer = most * ADVERSARIAL_IMAGES * evaluation
            count = f"{most:,}" if fewest == most else f"{fewest:,}–{most:,}"
            share = "" if name == "all" else f" ({100 * most / n_models**2:.1f} % of N²)"
            rows.append(
                f"| {n_models:,} | {name} | {count}{share} | {hours(clean)} | {hours(attack)} "
                f"| {hours(transfer)} | {hours(clean + attack + transfer)} "
                f"| {'≤ ' if fewest != most else ''}{most:,} "
                f"| {'≤ ' if fewest != most else ''}{size(most)} |"
            )
    notes = f"""
Derived, not measured. Assumptions:

- **Per-image costs** are docs/paper-run.md's: timm's published RTX 3090 mixed-precision
  throughput summed over the paper's 69 models, {PGD_SECONDS_PER_IMAGE_STEP_ALL_69} s per image ×
  PGD step (one step costs at most one training step) and {EVAL_SECONDS_PER_IMAGE_ALL_69} s per
  evaluated image, i.e. a mean model of {1e3 * step:.2f} ms per image × step and
  {1e3 * evaluation:.3f} ms per image. N models
  are assumed to cost what the 69 cost on average; float32 (the default) is several times slower.
- **Images:** {EVAL_IMAGES:,} eval images; each model is attacked ({ATTACK_STEPS} steps) on
  the ~{ADVERSARIAL_IMAGES:,} it classifies correctly, and a pair evaluation is one inference
  pass of the target over the source's ~{ADVERSARIAL_IMAGES:,} adversarial images.
- **clean** = N × {EVAL_IMAGES:,} evaluations; **attack** = N × {ADVERSARIAL_IMAGES:,} ×
  {ATTACK_STEPS} steps; **transfer** = directed pair evaluations × {ADVERSARIAL_IMAGES:,}. Job
  start-up (loading torch and one model, seconds per job) is not counted: `all` has N transfer
  jobs, adaptive (rounds + 1) × N and one `pair_plan` per round.
- **Directed pair evaluations:** `all` is N² (the diagonal, the white-box pairs, included).
  Adaptive: the landmark round measures every model against each of the k landmarks in both
  directions plus the diagonal, exactly N + 2Nk − k² − k; each neighbour round adds each of the
  N − k other models' m predicted nearest unmeasured partners, a SAT cell needing both
  directions: between (N − k)·m (every pick mutual) and 2(N − k)·m directed evaluations per
  round. The table's hours, files and disk take the upper end.
- **Pair store:** one file per directed pair evaluation, {file_bytes:,} bytes each: the JSON header
  (pair key and tensor offsets, measured 1.4–1.5 kB on the tiny run) and 16 bytes (int64 index +
  int64 pred) per adversarial image; on a 4 KiB-block file system each takes
  {-(-file_bytes // 4096) * 4:,} KiB. The run's transfer/ files hold the same predictions again
  (one file per target), so the transfer stage's disk is about twice the pair store. Either
  way the adversarial sets dominate the disk: ~0.8 GB per model (uint8 256 × 256), N × 0.8 GB
  ({0.8 * max(sizes):,.0f} GB at N = {max(sizes):,}), whatever the strategy.
"""
    return "\n".join(rows) + "\n" + notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time snakemake --dry-run of the tiny config on N synthetic models and "
        "count its jobs and pair evaluations.",
    )
    parser.add_argument("--models", type=int, nargs="+", default=[69, 200, 1000], metavar="N")
    parser.add_argument("--strategy", choices=["all", "adaptive"], default="all")
    parser.add_argument("--landmarks", type=int, default=15, help="adaptive: k (default 15)")
    parser.add_argument("--neighbours", type=int, default=10, help="adaptive: m (default 10)")
    parser.add_argument("--rounds", type=int, default=1, help="adaptive: rounds (default 1)")
    parser.add_argument("--keep", type=Path, help="keep the registries and run folders here")
    parser.add_argument(
        "--costs",
        action="store_true",
        help="run nothing; print the derived GPU cost table of both strategies at each N",
    )
    args = parser.parse_args(argv)
    if args.costs:
        print(cost_table(args.models, args.landmarks, args.neighbours, args.rounds))
        return 0
    pairs_config = None
    if args.strategy == "adaptive":
        pairs_config = (
            f"sat={{eps_s: 0.01, pairs: {{strategy: adaptive, landmarks: {args.landmarks}, "
            f"neighbours: {args.neighbours}, rounds: {args.rounds}}}}}"
        )
    print(f"snakemake --dry-run of {TINY_CONFIG.relative_to(REPO)}, strategy {args.strategy}")
    print(
        "| N | strategy | seconds | CPU seconds | jobs | transfer jobs | pair evaluations planned "
        "| inputs read | pair files (finished run) |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="dag_scale_") as scratch:
        workdir = args.keep or Path(scratch)
        for n_models in args.models:
            sub = workdir / f"{args.strategy}_{n_models}"
            sub.mkdir(parents=True, exist_ok=True)
            try:
                plan = dry_run(n_models, sub, pairs_config)
            except RuntimeError as error:
                print(f"| {n_models} | {args.strategy} | failed | | | | | | |", flush=True)
                print(error, file=sys.stderr)
                continue
            planned = len(plan.pairs)
            if args.strategy == "all":
                files = f"{planned:,}"
                if planned != n_models**2:
                    files += f" (expected N² = {n_models**2:,})"
            else:
                bound = neighbour_pair_bound(n_models, args.landmarks, args.neighbours, args.rounds)
                files = (
                    f"<= {planned + bound:,} ({planned:,} + <= {bound:,} picked by pair_plan "
                    f"for {plan.pending:,} transfer jobs)"
                )
            print(
                f"| {n_models} | {args.strategy} | {plan.seconds:.1f} | {plan.cpu_seconds:.1f} "
                f"| {plan.total_jobs:,} "
                f"| {plan.transfer_jobs:,} | {planned:,} | {plan.inputs_read:,} | {files} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
