"""Draw the report's figures: the speedup and step time against model size, the
frontier (the crossover against the batch size) and the speedup map."""

import json
from pathlib import Path

from sweeplib.common.atomic import atomic_path
from sweeplib.common.logs import job
from sweeplib.common.tables import read_csv
from sweeplib.report.isolation import at_fault, close, figures, names_of, others


def main(snakemake) -> None:
    with job(snakemake.log[0], "plot_sweep", snakemake.output) as log:
        cells = read_csv(snakemake.input.cells)
        table = read_csv(snakemake.input.speedup)
        summary = json.loads(Path(snakemake.input.analysis).read_text())
        post = read_csv(snakemake.input.post)
        manifest = json.loads(Path(snakemake.input.plan).read_text())
        names = names_of(manifest)

        def draw(out: set[str]) -> list:
            return figures(cells, table, summary, post, names, out)

        # Another machine whose share cannot be drawn is left out of the figures.
        # (The figures of the try that succeeded are the ones written.)
        drawn, notes = at_fault(draw, others(manifest), "drawing it failed", close)
        for n in notes:
            log.warning("left %s out of the figures: %s", n["folder"], n["reason"])
        targets = (
            snakemake.output.speedup,
            snakemake.output.step_time,
            snakemake.output.frontier,
            snakemake.output.speedup_map,
        )
        for fig, target in zip(drawn, targets, strict=True):
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format="png", dpi=120)
            log.info("wrote %s", target)
        close(drawn)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
