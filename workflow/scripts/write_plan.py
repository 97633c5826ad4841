"""Write the sweep's plan (the manifest the aggregation reads)."""

from pathlib import Path

from sweeplib.atomic import write_text
from sweeplib.logs import job


def main(snakemake) -> None:
    with job(snakemake.log[0], "write_plan") as log:
        write_text(snakemake.output[0], snakemake.params.manifest)
        log.info("wrote %s", snakemake.output[0])
        # The stamps of earlier changes of plan are read by nothing any more.
        for stamp in Path(snakemake.output[0]).parent.glob("change-*.stamp"):
            if str(stamp) not in snakemake.input:
                stamp.unlink()


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
