"""Write results/report.md from the sweep's tables."""

import json

import pandas as pd

from sweeplib.atomic import write_text
from sweeplib.logs import job_logger
from sweeplib.report import render


def main(snakemake) -> None:
    log = job_logger(snakemake.log[0], "write_report")
    i = snakemake.input
    text = render(json.load(open(i.manifest)), pd.read_csv(i.cells), pd.read_csv(i.speedup), json.load(open(i.analysis)),
                  pd.read_csv(i.inference), pd.read_csv(i.hardware), pd.read_csv(i.timings), pd.read_csv(i.toy_losses),
                  pd.read_csv(i.toy_evals), pd.read_csv(i.toy_predictions), pd.read_csv(i.seed))
    write_text(snakemake.output[0], text)
    log.info("wrote %s (%d lines)", snakemake.output[0], text.count("\n"))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
