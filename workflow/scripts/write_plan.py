"""Write the sweep's plan (what the aggregation reads), and this machine's own plan and
description into its results folder."""

from pathlib import Path

from sweeplib.common.atomic import write_text
from sweeplib.common.logs import job


def main(snakemake) -> None:
    with job(snakemake.log[0], "write_plan", snakemake.output) as log:
        for name in ("info", "plan", "manifest"):
            write_text(getattr(snakemake.output, name), getattr(snakemake.params, name))
            log.info("wrote %s", getattr(snakemake.output, name))
        # The stamps of earlier changes of plan are read by nothing any more.
        for stamp in Path(snakemake.output.manifest).parent.glob("change-*.stamp"):
            if str(stamp) not in snakemake.input:
                stamp.unlink()


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
