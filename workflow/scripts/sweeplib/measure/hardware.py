"""What a device can do at best: large-copy memory bandwidth, matrix-multiply
throughput, and the size of the last-level cache its weights stream through.

Which precision each probe measures: the copy bandwidth is always of float32
tensors (bytes are bytes: a copy moves as many per second whatever they hold);
the matrix-multiply throughput is of the probe job's precision, float32, or a
plain bfloat16 product for bfloat16 (what a Linear layer runs under autocast);
the cache size is the hardware's."""

from __future__ import annotations

import numpy as np
import torch

from ..common.env import last_level_cache
from .timing import time_calls


def copy_bandwidth(device, sync, mib: int, repeats: int, min_seconds: float) -> dict:
    """Bytes per second of ``dst.copy_(src)`` on a float32 tensor of ``mib`` MiB (read
    plus write); each sample lasts at least ``min_seconds`` (``timing.time_calls``).
    Float32 for every precision: the bandwidth is in bytes."""
    n = mib * 2**20 // 4
    src = torch.randn(n, device=device)
    dst = torch.empty_like(src)
    times, calls = time_calls(lambda: dst.copy_(src), sync, repeats, min_seconds)
    q25, median, q75 = np.percentile(times, [25, 50, 75])
    moved = 2 * 4 * n
    return {
        "copy_bytes": moved,
        "copy_calls_per_sample": calls,
        "copy_median_s": median,
        "bandwidth_Bps": moved / median,
        "bandwidth_q25_Bps": moved / q75,
        "bandwidth_q75_Bps": moved / q25,
    }


def matmul_throughput(
    device,
    sync,
    n: int,
    repeats: int,
    min_seconds: float,
    dtype: torch.dtype = torch.float32,
) -> dict:
    """FLOP per second of an n x n by n x n matrix product of ``dtype`` tensors
    (float32; bfloat16 for a bfloat16 run: a plain bfloat16 product, as autocast's
    Linear runs, with no autocast around it); each sample lasts at least
    ``min_seconds``."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    times, calls = time_calls(lambda: a @ b, sync, repeats, min_seconds)
    median = float(np.median(times))
    return {
        "matmul_n": n,
        "matmul_calls_per_sample": calls,
        "matmul_median_s": median,
        "flops": 2 * n**3 / median,
    }


def cache_size(device_name: str) -> dict:
    """The last-level cache in bytes (NaN where the platform does not tell)."""
    size = last_level_cache(device_name)
    return {"llc_bytes": float(size) if size else float("nan")}
