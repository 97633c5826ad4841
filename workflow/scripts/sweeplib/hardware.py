"""What a device can do at best: large-copy memory bandwidth and matrix-multiply throughput."""

from __future__ import annotations

import time

import torch

from .timing import summarise


def _time(fn, sync, repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def copy_bandwidth(device, sync, mib: int, repeats: int) -> dict:
    """Bytes per second of ``dst.copy_(src)`` on a float32 tensor of ``mib`` MiB (read plus write)."""
    n = mib * 2**20 // 4
    src = torch.randn(n, device=device)
    dst = torch.empty_like(src)
    times = _time(lambda: dst.copy_(src), sync, repeats)
    moved = 2 * 4 * n
    s = summarise(times)
    return {"copy_bytes": moved, "copy_median_s": s["median"], "bandwidth_Bps": moved / s["median"],
            "bandwidth_q25_Bps": moved / s["q75"], "bandwidth_q75_Bps": moved / s["q25"]}


def matmul_throughput(device, sync, n: int, repeats: int) -> dict:
    """Float32 FLOP per second of an n x n by n x n matrix product."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    times = _time(lambda: a @ b, sync, repeats)
    flop = 2 * n**3
    s = summarise(times)
    return {"matmul_n": n, "matmul_median_s": s["median"], "flops": flop / s["median"]}
