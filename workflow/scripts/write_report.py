"""Write results/report.md from the sweep's tables."""

import json
from pathlib import Path

from sweeplib.common.atomic import write_text
from sweeplib.common.keys import digest
from sweeplib.common.logs import job
from sweeplib.common.tables import read_csv
from sweeplib.report.document import render
from sweeplib.report.isolation import isolated_report
from sweeplib.report.sweep import Sweep
from sweeplib.report.verdict import verdict


def main(snakemake) -> None:
    with job(snakemake.log[0], "write_report", snakemake.output) as log:
        i = snakemake.input
        manifest = json.loads(Path(i.plan).read_text())
        sweep = Sweep(
            manifest=manifest,
            cells=read_csv(i.cells),
            table=read_csv(i.speedup),
            summary=json.loads(Path(i.analysis).read_text()),
            inference=read_csv(i.inference),
            hardware=read_csv(i.hardware),
            timings=read_csv(i.timings),
            toy_losses=read_csv(i.toy_losses),
            toy_evals=read_csv(i.toy_evals),
            toy_predictions=read_csv(i.toy_predictions),
            post=read_csv(i.post),
            plan_key=digest(manifest),
            left_out=read_csv(i.left_out),
        )
        # Another machine whose share fails (of the figures too) is left out,
        # noted in the report.
        sweep, text = isolated_report(sweep, render, draw=True)
        write_text(snakemake.output.report, text)
        log.info("wrote %s (%d lines)", snakemake.output.report, text.count("\n"))
        write_text(snakemake.output.verdict, verdict(sweep))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
