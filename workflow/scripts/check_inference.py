"""Reload one run's checkpoint in a fresh process and check its predictions."""

import json
import time

import pandas as pd
import torch

from sweeplib.atomic import write_csv
from sweeplib.checkpoint import load_checkpoint
from sweeplib.devices import synchronizer, torch_device
from sweeplib.inference import ATOL, RTOL, check
from sweeplib.logs import job_logger
from sweeplib.runner import load_dataset


def main(snakemake) -> None:
    log = job_logger(snakemake.log[0], "check_inference")
    started_at = time.time()
    settings = json.loads(snakemake.params.settings)
    name = settings["device"]["name"]
    torch.set_num_threads(settings["device"]["threads"])
    model, meta = load_checkpoint(snakemake.input.checkpoint, torch_device(name))
    reference = torch.load(snakemake.input.predictions, map_location="cpu", weights_only=True)["logits"]
    where = f"scale {meta['scale']} on {meta['device']} (run {meta['run_key']})"
    result = check(model, load_dataset(snakemake.input.dataset), reference, settings["train"]["batch_size"],
                   torch_device(name), synchronizer(name), where)
    log.info("%s: %s", where, result)
    row = {"run_key": meta["run_key"], "scale": meta["scale"], "device": meta["device"], "rtol": RTOL, "atol": ATOL, **result,
           "started_at": started_at, "ended_at": time.time()}
    write_csv(snakemake.output[0], pd.DataFrame([row]))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
