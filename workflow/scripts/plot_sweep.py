"""Draw the speedup and step-time figures."""

import json

import pandas as pd

from sweeplib.atomic import atomic_path
from sweeplib.logs import job_logger
from sweeplib.plots import speedup_figure, step_time_figure


def main(snakemake) -> None:
    log = job_logger(snakemake.log[0], "plot_sweep")
    cells = pd.read_csv(snakemake.input.cells)
    table = pd.read_csv(snakemake.input.speedup)
    summary = json.load(open(snakemake.input.analysis))
    seed = pd.read_csv(snakemake.input.seed)
    for fig, target in ((speedup_figure(cells, table, summary, seed), snakemake.output.speedup),
                        (step_time_figure(cells, summary, seed), snakemake.output.step_time)):
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png", dpi=120)
        log.info("wrote %s", target)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
