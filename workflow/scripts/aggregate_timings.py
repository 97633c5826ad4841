"""Gather every run's timing, step, inference and hardware files into tidy tables."""

import pandas as pd

from sweeplib.atomic import write_csv
from sweeplib.logs import job_logger


def concat(paths) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True) if len(paths) else pd.DataFrame()


def main(snakemake) -> None:
    log = job_logger(snakemake.log[0], "aggregate_timings")
    for name in ("timings", "steps", "inference", "hardware"):
        frame = concat(list(getattr(snakemake.input, name)))
        write_csv(getattr(snakemake.output, name), frame)
        log.info("%s: %d rows from %d files", name, len(frame), len(getattr(snakemake.input, name)))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
