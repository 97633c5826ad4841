"""Measure one device's copy bandwidth and matrix-multiply throughput, and read its
cache size.

Its settings (JSON): ``device`` (``name``, ``threads``, ``hardware``), ``copy_mib``,
``matmul_n``, ``repeats``, ``min_s``, and an optional ``precision`` ("float32",
the default, or "bfloat16"): the matrix product is timed in that dtype, the copy
in float32 whatever it is (``hardware.py``). The row names its ``precision``."""

import json
import platform
import time

import pandas as pd

from sweeplib.atomic import write_csv
from sweeplib.devices import set_thread_variables
from sweeplib.logs import job


def main(snakemake) -> None:
    p = json.loads(snakemake.params.settings)
    # Before torch loads: a BLAS such as Accelerate reads its count only then.
    set_thread_variables(p["device"]["threads"])
    import torch

    from sweeplib.devices import PRECISIONS, synchronizer, torch_device
    from sweeplib.hardware import cache_size, copy_bandwidth, matmul_throughput

    with job(snakemake.log[0], "measure_hardware", snakemake.output) as log:
        name = p["device"]["name"]
        precision = p.get("precision", "float32")
        if precision not in PRECISIONS:
            raise ValueError(
                f"precision {precision!r} is not one of {', '.join(PRECISIONS)}"
            )
        dtype = getattr(torch, precision)
        started_at = time.time()
        torch.set_num_threads(p["device"]["threads"])
        device, sync = torch_device(name), synchronizer(name)
        row = {
            "device": name,
            "device_name": p["device"]["hardware"],
            "threads": torch.get_num_threads(),
            "precision": precision,
            **copy_bandwidth(device, sync, p["copy_mib"], p["repeats"], p["min_s"]),
            **matmul_throughput(
                device, sync, p["matmul_n"], p["repeats"], p["min_s"], dtype
            ),
            **cache_size(name),
            "started_at": started_at,
            "ended_at": time.time(),
            "node": platform.node(),
        }
        log.info("%s", row)
        write_csv(snakemake.output[0], pd.DataFrame([row]))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
