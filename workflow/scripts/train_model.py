"""Train one model at one scale on one device; write its checkpoint and timings."""

import json
from pathlib import Path

from sweeplib.atomic import remove_stale_parts
from sweeplib.logs import job_logger
from sweeplib.runner import load_dataset, run_training, write_run


def main(snakemake) -> None:
    log = job_logger(snakemake.log[0], "train_model")
    for p in remove_stale_parts(Path(snakemake.output.timings).parent):
        log.info("removed %s, left by an interrupted run", p.name)
    settings = json.loads(snakemake.params.settings)
    data = load_dataset(snakemake.input.dataset)
    result = run_training(settings, data, snakemake.wildcards.key, log=log.info)
    write_run(dict(snakemake.output.items()), result, settings, snakemake.wildcards.key)
    t = result["timings"]
    log.info("median step %.6f s over %d repeats; total %.2f s%s", t["step_median_s"].median(), len(t), t["total_s"].iloc[0],
             " (extrapolated)" if t["total_extrapolated"].iloc[0] else "")


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
