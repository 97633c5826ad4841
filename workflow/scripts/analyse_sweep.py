"""Per-cell statistics, speedups with intervals, crossovers and cost models."""

import json

import pandas as pd

from sweeplib.atomic import write_csv, write_text
from sweeplib.logs import job_logger
from sweeplib.report import speedup_markdown
from sweeplib.tables import analyse, cell_table


def main(snakemake) -> None:
    log = job_logger(snakemake.log[0], "analyse_sweep")
    manifest = json.load(open(snakemake.input.manifest))
    steps = pd.read_csv(snakemake.input.steps)
    timings = pd.read_csv(snakemake.input.timings)
    hardware = pd.read_csv(snakemake.input.hardware)
    settings = manifest["analysis"]
    cells = cell_table(steps, timings, hardware, settings["spread_flag"])
    table, summary = analyse(cells, steps, manifest["baseline"], settings, manifest["scales"])
    write_csv(snakemake.output.cells, cells)
    write_csv(snakemake.output.speedup, table)
    write_text(snakemake.output.speedup_md, speedup_markdown(cells, table, manifest["baseline"]))
    write_text(snakemake.output.analysis, json.dumps(summary, indent=2, sort_keys=True) + "\n")
    log.info("%d cells, %d speedups; %s", len(cells), len(table), summary["devices"])


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
