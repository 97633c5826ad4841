"""Write results/report.md from the sweep's tables."""

import json
from pathlib import Path

import pandas as pd

from sweeplib.atomic import write_text
from sweeplib.keys import digest
from sweeplib.logs import job
from sweeplib.report import Sweep, render


def main(snakemake) -> None:
    with job(snakemake.log[0], "write_report", snakemake.output) as log:
        i = snakemake.input
        manifest = json.loads(Path(i.plan).read_text())
        sweep = Sweep(
            manifest=manifest,
            cells=pd.read_csv(i.cells),
            table=pd.read_csv(i.speedup),
            summary=json.loads(Path(i.analysis).read_text()),
            inference=pd.read_csv(i.inference),
            hardware=pd.read_csv(i.hardware),
            timings=pd.read_csv(i.timings),
            toy_losses=pd.read_csv(i.toy_losses),
            toy_evals=pd.read_csv(i.toy_evals),
            toy_predictions=pd.read_csv(i.toy_predictions),
            post=pd.read_csv(i.post),
            plan_key=digest(manifest),
            left_out=pd.read_csv(i.left_out),
        )
        text = render(sweep)
        write_text(snakemake.output[0], text)
        log.info("wrote %s (%d lines)", snakemake.output[0], text.count("\n"))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
