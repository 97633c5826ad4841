"""Gather every machine's timing, step, inference and hardware files into tidy tables,
each row tagged with the ``machine`` (results folder) it comes from."""

from pathlib import Path

import pandas as pd

from sweeplib.atomic import write_csv
from sweeplib.logs import job

TABLES = ("timings", "steps", "inference", "hardware")


def machine_of(path: str) -> str:
    """The machine folder a result lives in: results/machines/<machine>/..."""
    parts = Path(path).parts
    return parts[parts.index("machines") + 1]


def concat(paths) -> pd.DataFrame:
    frames = [pd.read_csv(p).assign(machine=machine_of(p)) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def main(snakemake) -> None:
    with job(snakemake.log[0], "aggregate_results") as log:
        for name in TABLES:
            paths = list(getattr(snakemake.input, name))
            frame = concat(paths)
            write_csv(getattr(snakemake.output, name), frame)
            log.info("%s: %d rows from %d files", name, len(frame), len(paths))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
