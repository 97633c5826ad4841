"""The devices a sweep can run on, in one place: names, availability, threads,
memory pools, synchronisation, how a scale's devices share its timing processes,
and how tables name them.

- ``cpu``: the CPU with all the threads this machine offers (or ``cpu_threads``);
- ``cpu1``: the CPU held to one thread, the stand-in baseline on a machine with
  no accelerator;
- ``cuda``: the first CUDA device; ``mps``: Apple's Metal device.
"""

from __future__ import annotations

import os
from collections.abc import Callable

DEVICES = ("cpu", "cpu1", "cuda", "mps")
ACCELERATORS = ("cuda", "mps")

# How a scale's devices share its timing processes: every device in each process,
# windows interleaved round by round; or each device in processes of its own, when
# their models do not fit in memory together (``plan.choose_pairing``).
INTERLEAVED, SEPARATE = "interleaved", "separate"


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_accelerators() -> list[str]:
    """The accelerators this torch build can use here, in a fixed order."""
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def available_devices() -> list[str]:
    return ["cpu", "cpu1", *available_accelerators()]


def resolve_devices(requested, available: list[str]) -> list[str]:
    """Turn the config's ``devices`` into the list to run; a missing device is an error.

    ``auto`` means the CPU plus every accelerator present; with none present,
    one CPU thread (``cpu1``) against all cores (``cpu``), so the sweep still
    compares two real configurations.
    """
    if requested == "auto":
        accelerators = [d for d in available if d in ACCELERATORS]
        return ["cpu", *accelerators] if accelerators else ["cpu1", "cpu"]
    for i, name in enumerate(requested):
        if name not in DEVICES:
            allowed = ", ".join(repr(d) for d in DEVICES)
            raise ValueError(
                f"devices[{i}] = {name!r} is not allowed; allowed: one of {allowed}"
            )
    missing = [d for d in requested if d not in available]
    if missing:
        raise ValueError(
            f"devices: {', '.join(missing)} requested but not available on this "
            f"machine; available here: {', '.join(available)}"
        )
    return list(requested)


def resolve_baseline(baseline: str, devices: list[str]) -> str:
    """The device every other is compared with: the CPU, or one thread when no
    accelerator runs."""
    if baseline == "auto":
        if any(d in ACCELERATORS for d in devices):
            return "cpu" if "cpu" in devices else devices[0]
        return "cpu1" if "cpu1" in devices else devices[0]
    if baseline not in DEVICES:
        allowed = ", ".join(repr(d) for d in DEVICES)
        raise ValueError(
            f"baseline = {baseline!r} is not allowed; allowed: 'auto' or one of "
            f"{allowed}"
        )
    if baseline not in devices:
        raise ValueError(
            f"baseline: {baseline!r} is not among the devices run "
            f"({', '.join(devices)})"
        )
    return baseline


def device_threads(device: str, cpu_threads: int | str) -> int:
    """Intra-op CPU threads a job on ``device`` uses (the host side of an accelerator
    too)."""
    if device == "cpu1":
        return 1
    return usable_cores() if cpu_threads == "all" else int(cpu_threads)


def memory_pool(device: str) -> str:
    """Where a device's tensors live: host memory (the CPU, and Apple's unified
    memory for MPS) or the CUDA device's own."""
    return "cuda" if device == "cuda" else "host"


def torch_device(device: str):
    import torch

    return torch.device("cpu" if device.startswith("cpu") else device)


def synchronizer(device: str) -> Callable[[], None]:
    """A function that blocks until all queued work on ``device`` has finished."""
    import torch

    if device == "cuda":
        return torch.cuda.synchronize
    if device == "mps":
        return torch.mps.synchronize
    return lambda: None  # CPU kernels have returned when the call returns


def device_label(device: str, threads: int) -> str:
    """How a device is named in tables and plots."""
    if device == "cpu1":
        return "CPU, 1 thread"
    if device == "cpu":
        return f"CPU, {threads} threads"
    return device.upper()


def device_order(devices, baseline: str) -> list[str]:
    """The baseline first, then the others as configured."""
    devices = list(dict.fromkeys(devices))
    return [baseline] * (baseline in devices) + [d for d in devices if d != baseline]
