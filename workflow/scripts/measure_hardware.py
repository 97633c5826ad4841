"""Measure one device's copy bandwidth and matrix-multiply throughput, and read its
cache size.

Its settings (JSON): ``device`` (``name``, ``threads``, ``hardware``), ``copy_mib``,
``matmul_n``, ``repeats``, ``min_s``, and ``precisions``, those the sweep trains
in (``keys.hardware_settings``; float32 where absent). The copy is timed in
float32 (its bandwidth is in bytes), the matrix product in float32 (``flops``)
and in each other precision (``flops_<precision>``, e.g. ``flops_bfloat16``:
what autocast's Linear layers run), as ``hardware.py`` says."""

import json
import platform
import time

import pandas as pd

from sweeplib.common.atomic import write_csv
from sweeplib.common.devices import set_thread_variables
from sweeplib.common.logs import job


def main(snakemake) -> None:
    p = json.loads(snakemake.params.settings)
    # Before torch loads: a BLAS such as Accelerate reads its count only then.
    set_thread_variables(p["device"]["threads"])
    import torch

    from sweeplib.common.devices import PRECISIONS, synchronizer, torch_device
    from sweeplib.measure.hardware import cache_size, copy_bandwidth, matmul_throughput

    with job(snakemake.log[0], "measure_hardware", snakemake.output) as log:
        name = p["device"]["name"]
        precisions = p.get("precisions", ["float32"])
        odd = [x for x in precisions if x not in PRECISIONS]
        if odd:
            raise ValueError(
                f"precisions {odd!r} are not among {', '.join(PRECISIONS)}"
            )
        started_at = time.time()
        torch.set_num_threads(p["device"]["threads"])
        device, sync = torch_device(name), synchronizer(name)
        row = {
            "device": name,
            "device_name": p["device"]["hardware"],
            "threads": torch.get_num_threads(),
            **copy_bandwidth(device, sync, p["copy_mib"], p["repeats"], p["min_s"]),
            **matmul_throughput(device, sync, p["matmul_n"], p["repeats"], p["min_s"]),
            **{
                f"flops_{x}": matmul_throughput(
                    device,
                    sync,
                    p["matmul_n"],
                    p["repeats"],
                    p["min_s"],
                    getattr(torch, x),
                )["flops"]
                for x in precisions
                if x != "float32"
            },
            **cache_size(name),
            "started_at": started_at,
            "ended_at": time.time(),
            "node": platform.node(),
        }
        log.info("%s", row)
        write_csv(snakemake.output[0], pd.DataFrame([row]))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
