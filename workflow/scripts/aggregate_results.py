"""Gather every device's timing, step and inference files and the hardware probes into
tidy tables."""

import pandas as pd
from sweeplib.atomic import write_csv
from sweeplib.logs import job

TABLES = ("timings", "steps", "inference", "hardware")


def concat(paths) -> pd.DataFrame:
    return (
        pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
        if len(paths)
        else pd.DataFrame()
    )


def main(snakemake) -> None:
    with job(snakemake.log[0], "aggregate_results") as log:
        for name in TABLES:
            paths = list(getattr(snakemake.input, name))
            frame = concat(paths)
            write_csv(getattr(snakemake.output, name), frame)
            log.info("%s: %d rows from %d files", name, len(frame), len(paths))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
