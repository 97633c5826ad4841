"""Time every device of one scale side by side, in several fresh processes; write each
device's checkpoint, test-set logits, steps and timings."""

import json
from pathlib import Path

from sweeplib.logs import job
from sweeplib.processes import ScaleJob

FILES = ("checkpoint", "predictions", "steps", "timings", "settings")


def main(snakemake) -> None:
    with job(snakemake.log[0], "time_scale") as log:
        settings = json.loads(snakemake.params.settings)
        devices = [d["name"] for d in settings["devices"]]
        outputs = {
            d: {name: getattr(snakemake.output, name)[i] for name in FILES}
            for i, d in enumerate(devices)
        }
        work = Path(snakemake.output.timings[0]).parent.parent / ".work"
        log.info(
            "scale %s: %s, %s, %d processes",
            settings["scale"],
            ", ".join(devices),
            settings["pairing"],
            settings["timing"]["processes"],
        )
        key, dataset = snakemake.wildcards.key, snakemake.input.dataset
        ScaleJob(settings, key, dataset, outputs, work).run(log.info)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
