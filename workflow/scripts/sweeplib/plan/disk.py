"""Disk space, checked before a sweep starts: every checkpoint is kept (about 13 GB
at the default scales), and a disk that fills hours into a sweep loses the run in
flight. The plan counts what the runs still to be measured will write (each
device's checkpoint and test-set logits, and the datasets not made yet) and
refuses a sweep that cannot fit, with both figures (``sweep.plan_sweep``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..common.atomic import size
from ..common.sizes import BYTES_PER_FLOAT

# Beyond the tensors: the pickle's framing, the model's sizes and metadata, the
# timing tables and logs of a run (a few hundred KB); generous.
RUN_OVERHEAD = 4 * 2**20


def run_bytes(run) -> int:
    """What a scale's run writes: per device, its weights and its test-set logits (two
    float32 per sample), and its tables."""
    spec = run.spec
    logits = 2 * BYTES_PER_FLOAT * spec.data.n_test
    per_device = BYTES_PER_FLOAT * spec.params + logits
    return len(spec.devices) * per_device + RUN_OVERHEAD


def dataset_bytes(dataset) -> int:
    n = dataset.n_train + dataset.n_test
    return BYTES_PER_FLOAT * n * dataset.num_inputs + 8 * n + RUN_OVERHEAD


def still_to_write(runs, datasets: dict) -> int:
    """Bytes the sweep has yet to write: the runs without timings for every device, and
    the datasets that are not there."""
    todo = [
        r
        for r in runs
        if not all(
            (Path(r.device_folder(d)) / "timings.csv").exists()
            for d in r.spec.device_names
        )
    ]
    scales = {r.spec.data.key: r.scale for r in runs}
    missing = [
        d for key, d in datasets.items() if not Path(d.path(scales[key])).exists()
    ]
    return sum(map(run_bytes, todo)) + sum(map(dataset_bytes, missing))


def free_bytes(path: str | Path = "results") -> int:
    """Bytes free on the disk that holds ``path`` (or the nearest folder above it that
    exists: results/ may not exist yet)."""
    path = Path(path).absolute()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def shortage(runs, datasets: dict, free: int | None = None) -> str:
    """Why the sweep cannot fit on the disk ("" if it can)."""
    needs = still_to_write(runs, datasets)
    free = free_bytes() if free is None else free
    if needs <= free:
        return ""
    return (
        f"the sweep still has to write about {size(needs)} of checkpoints and "
        f"datasets under results/, and its disk has {size(free)} free: free "
        f"{size(needs - free)} or more (snakemake --list-untracked lists results of "
        "old keys), or sweep fewer or smaller scales"
    )
