"""One timing process of a scale, as its job starts it: ``python -m
sweeplib.measure.worker SPEC.json``. Each process starts afresh, so state fixed for a
process's life (thread placement, memory layout) differs between processes and shows in
the spread.

Before torch is imported, the process sets the thread variables
(``devices.THREAD_VARIABLES``) to the threads its devices use. Snakemake sets
them to the job's threads (1 under ``--cores 1``); ``torch.set_num_threads``
later changes OpenMP's and MKL's counts, but a BLAS such as Apple's Accelerate,
or an OpenBLAS built without OpenMP, reads its own once, when it loads
(``probe.blas_threading`` tells which). The work itself is ``training.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..common.devices import set_thread_variables
from ..plan.runspec import WorkerSpec


def main(argv: list[str]) -> None:
    spec = WorkerSpec.from_json(Path(argv[0]).read_text())
    set_thread_variables(spec.process.threads)
    from ..common.atomic import write_rows
    from .training import run_process  # imports torch: after the variables are set

    steps, processes = run_process(spec)
    write_rows(Path(spec.out) / "steps.csv", steps)
    write_rows(Path(spec.out) / "process.csv", processes)


if __name__ == "__main__":
    main(sys.argv[1:])
