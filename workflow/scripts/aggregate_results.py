"""Gather every machine's timing, step, inference and hardware files into tidy tables,
each row tagged with the ``machine`` (results folder) it comes from. Each machine's
files are checked first (``sweeplib/analyse/gather.py``); a machine whose files fail is
left out, with a note in ``left_out.csv`` that the report shows; if none is left, the
job fails with each note."""

import json
from pathlib import Path

import pandas as pd

from sweeplib.analyse.gather import TABLES, gather
from sweeplib.common.atomic import write_csv
from sweeplib.common.logs import job


class NothingLeft(ValueError):
    """Every machine was left out: there is nothing to analyse."""


def main(snakemake) -> None:
    with job(snakemake.log[0], "aggregate_results", snakemake.output) as log:
        manifest = json.loads(Path(snakemake.input.plan).read_text())
        paths = {name: list(getattr(snakemake.input, name)) for name in TABLES}
        tables, left_out = gather(paths, manifest["machine"], manifest.get("plans"))
        if tables["timings"].empty:
            raise NothingLeft(
                "no machine's timings passed the checks: "
                + (
                    "; ".join(f"{n['folder']}: {n['reason']}" for n in left_out)
                    or "there are no timing files"
                )
            )
        for name in TABLES:
            write_csv(getattr(snakemake.output, name), tables[name])
            log.info(
                "%s: %d rows from %d files", name, len(tables[name]), len(paths[name])
            )
        for note in left_out:
            log.info("left out %s: %s", note["folder"], note["reason"])
        frame = pd.DataFrame(left_out, columns=["folder", "reason"])
        write_csv(snakemake.output.left_out, frame)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
