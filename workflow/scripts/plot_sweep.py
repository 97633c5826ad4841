"""Draw the speedup and step-time figures."""

import io
import json
from pathlib import Path

from sweeplib.atomic import atomic_path
from sweeplib.isolation import at_fault, others, tags_of
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
        manifest = json.loads(Path(snakemake.input.plan).read_text())
        names = {t: machine_label(p["info"]) for t, p in manifest["plans"].items()}

        def figures(out: set[str]) -> list:
            """Both figures, drawn, without the machines ``out``."""
            kept = {
                **summary,
                "machines": {
                    t: s for t, s in summary["machines"].items() if t not in out
                },
            }
            args = (
                cells[~cells["machine"].isin(out)],
                table[~table["machine"].isin(out)],
            )
            drawn = [
                speedup_figure(*args, kept, post, names),
                step_time_figure(args[0], kept, post, names),
            ]
            for fig in drawn:
                fig.savefig(io.BytesIO(), format="png", dpi=120)
            return drawn

        # Another machine whose share cannot be drawn is left out of the figures.
        notes = at_fault(figures, others(manifest), "drawing it failed")
        for n in notes:
            log.warning("left %s out of the figures: %s", n["folder"], n["reason"])
        drawn = figures(tags_of(notes))
        for fig, target in zip(
            drawn, (snakemake.output.speedup, snakemake.output.step_time)
        ):
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format="png", dpi=120)
            log.info("wrote %s", target)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
