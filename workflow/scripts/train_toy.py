"""Train the post's toy example (Part 1), save its checkpoint and per-batch losses."""

import pandas as pd

from sweeplib.common.atomic import write_csv
from sweeplib.common.devices import set_thread_variables
from sweeplib.common.logs import job
from sweeplib.measure import toy
from sweeplib.measure.toy import train_toy


def main(snakemake) -> None:
    set_thread_variables(snakemake.threads)  # before torch loads
    from sweeplib.measure.checkpoint import save_checkpoint
    from sweeplib.measure.training import post_line

    with job(snakemake.log[0], "train_toy", snakemake.output) as log:
        model, batches, evals = train_toy()
        for b in batches:
            line = post_line(
                b["epoch"], toy.EPOCHS, b["batch"], toy.BATCHES_PER_EPOCH, b["loss"]
            )
            log.info("%s", line)
        save_checkpoint(snakemake.output.checkpoint, model, {"example": "toy"})
        write_csv(snakemake.output.evals, pd.DataFrame(evals))
        write_csv(snakemake.output.losses, pd.DataFrame(batches))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
