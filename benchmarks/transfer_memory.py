"""Peak memory of a transfer evaluation against the size of the adversarial set it reads.

    python benchmarks/transfer_memory.py [--images 4000] [--size 256] [--batch-size 64]

Writes a synthetic adversarial set (random uint8 images, paper size by default: 4,000 x 3 x
256 x 256 = 786 MB) and a tenth of it, then, each in a fresh process, evaluates a small timm model
on it the way a transfer job does (``predict_classes`` on ``open_rows``, as
``satsim.similarity.transfer.transfer_pairs`` does: slices read from the file) and, for contrast,
after loading the whole set (what transfer did before). A baseline process runs the same model on
one batch only: its peak is the model's own footprint. Prints the peak resident memory (VmHWM) of
each, and what the set adds above the baseline.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

MODEL = "mobilenetv3_small_050"  # small and fast on a CPU: the set's memory is what is measured


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: ru_maxrss carries the parent's
    peak over fork and exec, and the parent has just written the set."""
    status = Path("/proc/self/status")
    if status.exists():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM"))
        return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(mode: str, path: str, batch_size: int) -> None:
    """One measurement, in its own process so that peaks do not carry over."""
    import timm
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    from satsim.models.predict import predict_classes
    from satsim.models.wrapper import CanonicalModel
    from satsim.workflow.artifacts import load_tensors, open_rows

    torch.set_num_threads(2)
    network = timm.create_model(MODEL, num_classes=1000)
    model = CanonicalModel(network, 224, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD).eval()
    if mode == "baseline":
        predict_classes(model, open_rows(path, "images")[:batch_size], batch_size)
    elif mode == "sliced":
        predict_classes(model, open_rows(path, "images"), batch_size)
    else:  # whole: the set loaded into memory first
        tensors, _ = load_tensors(path)
        predict_classes(model, tensors["images"], batch_size)
    print(f"{peak_rss_mb():.0f}")


def write_set(path: Path, n_images: int, size: int) -> None:
    from satsim.workflow.artifacts import save_tensors

    generator = torch.Generator().manual_seed(0)
    images = torch.randint(
        0, 256, (n_images, 3, size, size), dtype=torch.uint8, generator=generator
    )
    index = torch.arange(n_images)
    save_tensors(path, {"images": images, "index": index}, {"kind": "adversarial"})


def measure(mode: str, path: Path, batch_size: int) -> float:
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        str(path),
        "--batch-size",
        str(batch_size),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.batch_size)
        return
    print(f"model {MODEL} at 224 px, batch {args.batch_size}; peak RSS in MB")
    print(f"{'images':>7} {'set MB':>7} {'baseline':>9} {'sliced':>7} {'+set':>6} {'whole':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for n_images in (args.images // 10, args.images):
            path = Path(folder) / f"adversarial_{n_images}.safetensors"
            write_set(path, n_images, args.size)
            set_mb = path.stat().st_size / 2**20
            baseline = measure("baseline", path, args.batch_size)
            sliced = measure("sliced", path, args.batch_size)
            whole = measure("whole", path, args.batch_size)
            print(
                f"{n_images:>7} {set_mb:>7.0f} {baseline:>9.0f} {sliced:>7.0f} "
                f"{sliced - baseline:>6.0f} {whole:>7.0f}"
            )
            path.unlink()


if __name__ == "__main__":
    main()
