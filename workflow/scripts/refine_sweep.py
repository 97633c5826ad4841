"""One pass of refinement: from this machine's runs measured so far, decide which
sizes (or waves of processes) the next pass measures, or why refinement stops."""

import json
from pathlib import Path

import pandas as pd

from sweeplib.analyse.refine_pass import decide_pass
from sweeplib.common.atomic import write_text
from sweeplib.common.logs import job
from sweeplib.common.tables import read_csv
from sweeplib.plan.refine import Settings


def main(snakemake) -> None:
    with job(snakemake.log[0], "refine_sweep", snakemake.output) as log:
        p = json.loads(snakemake.params.settings)
        windows = pd.concat(
            [read_csv(f) for f in snakemake.input.timings], ignore_index=True
        )
        previous = (
            json.loads(Path(snakemake.input.previous[0]).read_text())
            if snakemake.input.previous
            else None
        )
        n = int(snakemake.wildcards.n)
        decision = decide_pass(
            windows, p["baseline"], p["analysis"], Settings(**p["refine"]), previous, n
        )
        for added in decision["added"]:
            log.info(
                "pass %d adds scale %s: %s", n + 1, added["scale"], added["reason"]
            )
        log.info("stop: %s", decision["stop"])
        write_text(snakemake.output[0], json.dumps(decision, indent=2) + "\n")


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
