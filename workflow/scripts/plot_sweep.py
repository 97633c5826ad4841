"""Draw the speedup and step-time figures."""

import json
from pathlib import Path

from sweeplib.atomic import atomic_path
from sweeplib.logs import job
from sweeplib.machines import machine_label
from sweeplib.plots import speedup_figure, step_time_figure
from sweeplib.tables import read_csv


def main(snakemake) -> None:
    with job(snakemake.log[0], "plot_sweep", snakemake.output) as log:
        cells = read_csv(snakemake.input.cells)
        table = read_csv(snakemake.input.speedup)
        summary = json.loads(Path(snakemake.input.analysis).read_text())
        post = read_csv(snakemake.input.post)
        plans = json.loads(Path(snakemake.input.plan).read_text())["plans"]
        names = {tag: machine_label(plan["info"]) for tag, plan in plans.items()}
        figures = (
            (
                speedup_figure(cells, table, summary, post, names),
                snakemake.output.speedup,
            ),
            (step_time_figure(cells, summary, post, names), snakemake.output.step_time),
        )
        for fig, target in figures:
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format="png", dpi=120)
            log.info("wrote %s", target)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
