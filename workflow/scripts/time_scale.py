"""Time every device of one scale side by side, in several fresh processes; write each
device's checkpoint, test-set logits, steps and timings."""

from pathlib import Path

from sweeplib.common.logs import job
from sweeplib.measure.processes import ScaleJob
from sweeplib.plan.runspec import RunSpec

FILES = ("checkpoint", "predictions", "steps", "timings", "settings")


def main(snakemake) -> None:
    with job(snakemake.log[0], "time_scale", snakemake.output) as log:
        spec = RunSpec.from_json(snakemake.params.run)
        outputs = {
            d: {name: getattr(snakemake.output, name)[i] for name in FILES}
            for i, d in enumerate(spec.device_names)
        }
        work = Path(snakemake.output.timings[0]).parent.parent / ".work"
        log.info(
            "scale %s: %s, %s, %s, %d processes",
            spec.scale,
            ", ".join(spec.device_names),
            spec.training.precision,
            spec.pairing,
            spec.timing.processes,
        )
        ScaleJob(spec, snakemake.input.dataset, outputs, work).run(log.info)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
