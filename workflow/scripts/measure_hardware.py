"""Measure one device's copy bandwidth and matrix-multiply throughput."""

import json

import pandas as pd
import torch

from sweeplib.atomic import write_csv
from sweeplib.devices import synchronizer, torch_device
from sweeplib.env import accelerator_name
from sweeplib.hardware import copy_bandwidth, matmul_throughput
from sweeplib.logs import job_logger


def main(snakemake) -> None:
    log = job_logger(snakemake.log[0], "measure_hardware")
    p = json.loads(snakemake.params.settings)
    name = p["device"]["name"]
    torch.set_num_threads(p["device"]["threads"])
    device, sync = torch_device(name), synchronizer(name)
    row = {"device": name, "device_name": accelerator_name(name), "threads": torch.get_num_threads(),
           **copy_bandwidth(device, sync, p["copy_mib"], p["repeats"]),
           **matmul_throughput(device, sync, p["matmul_n"], p["repeats"])}
    log.info("%s", row)
    write_csv(snakemake.output[0], pd.DataFrame([row]))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
