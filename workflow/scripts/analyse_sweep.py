"""Per-cell statistics, paired speedups with intervals, crossovers and cost models,
curve by curve."""

import json
from pathlib import Path

from sweeplib.analyse.analysis import analyse_curves
from sweeplib.common.atomic import write_csv, write_text
from sweeplib.common.logs import job
from sweeplib.common.tables import read_csv


def main(snakemake) -> None:
    with job(snakemake.log[0], "analyse_sweep", snakemake.output) as log:
        manifest = json.loads(Path(snakemake.input.plan).read_text())
        tables = {
            name: read_csv(getattr(snakemake.input, name))
            for name in ("timings", "inference", "hardware")
        }
        cells, table, summary = analyse_curves(
            tables["timings"], tables["inference"], tables["hardware"], manifest
        )
        for n in summary.get("left_out", []):
            log.warning("left out %s: %s", n["folder"], n["reason"])
        write_csv(snakemake.output.cells, cells)
        write_csv(snakemake.output.speedup, table)
        write_text(
            snakemake.output.analysis,
            json.dumps(summary, indent=2, sort_keys=True) + "\n",
        )
        log.info(
            "%d cells, %d speedups, curves %s",
            len(cells),
            len(table),
            ", ".join(summary["curves"]),
        )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
