"""Reload each device's checkpoint of one scale in a fresh process and check its
predictions, predicted again in the run's precision (float32, or bfloat16 under
autocast as in its training) and compared within that precision's tolerance
(``inference.TOLERANCES``: float32 rtol 1e-4, atol 1e-5; bfloat16 rtol 2**-7, one
bfloat16 step of a logit, atol 1e-3). The row names the precision and the bounds."""

import platform
import time

import pandas as pd

from sweeplib.common.atomic import write_csv
from sweeplib.common.devices import set_thread_variables, synchronizer, torch_device
from sweeplib.common.logs import job
from sweeplib.plan.runspec import Device, RunSpec


def check_device(
    device: Device,
    checkpoint: str,
    predictions: str,
    data: dict,
    batch_size: int,
    precision: str = "float32",
) -> dict:
    """One device's check, timed; its model is freed before the next one is loaded."""
    import torch

    from sweeplib.measure.checkpoint import load_checkpoint, load_predictions
    from sweeplib.measure.inference import InferenceMismatch, check, tolerance

    started_at = time.time()
    torch.set_num_threads(device.threads)
    model, meta = load_checkpoint(checkpoint, torch_device(device.name))
    reference = load_predictions(predictions, meta["run_key"])
    where = f"scale {meta['scale']} on {meta['device']} (run {meta['run_key']})"
    # Checkpoints from before precisions were recorded are float32 ones.
    if meta.get("precision", "float32") != precision:
        raise InferenceMismatch(
            f"{where}: its checkpoint was trained in {meta.get('precision')}, the run "
            f"being checked in {precision}"
        )
    result = check(
        model,
        data,
        reference,
        batch_size,
        torch_device(device.name),
        synchronizer(device.name),
        where,
        precision,
    )
    rtol, atol = tolerance(precision)
    return {
        "run_key": meta["run_key"],
        "scale": meta["scale"],
        "device": meta["device"],
        "precision": precision,
        "rtol": rtol,
        "atol": atol,
        **result,
        "started_at": started_at,
        "ended_at": time.time(),
        "node": platform.node(),
    }


def main(snakemake) -> None:
    spec = RunSpec.from_json(snakemake.params.run)
    # Before torch loads, as a timing process holding these devices does: a BLAS
    # such as Accelerate reads its count only then.
    set_thread_variables(max(d.threads for d in spec.devices))
    from sweeplib.measure.data import load_dataset

    with job(snakemake.log[0], "check_inference", snakemake.output) as log:
        data = load_dataset(snakemake.input.dataset)
        for i, device in enumerate(spec.devices):
            row = check_device(
                device,
                snakemake.input.checkpoints[i],
                snakemake.input.predictions[i],
                data,
                spec.training.batch_size,
                spec.training.precision,
            )
            log.info("%s", row)
            write_csv(snakemake.output[i], pd.DataFrame([row]))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
