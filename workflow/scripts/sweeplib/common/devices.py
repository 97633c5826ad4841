"""The devices a sweep can run on, in one place: names, availability, threads,
memory pools, synchronisation, how a scale's devices share its timing processes,
and how tables name them.

- ``cpu``: the CPU with all the threads this machine offers (or ``cpu_threads``);
- ``cpu1``: the CPU held to one thread, the stand-in baseline on a machine with
  no accelerator;
- ``cuda``: the first CUDA device; ``mps``: Apple's Metal device.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable

DEVICES = ("cpu", "cpu1", "cuda", "mps")
ACCELERATORS = ("cuda", "mps")
# How a run's steps compute (``runspec.Training.precision``, ``timing.autocast``):
# float32, the post's; bfloat16, autocast around the forward pass and the loss, with
# float32 master weights, gradients and update.
PRECISIONS = ("float32", "bfloat16")

# The thread variables Snakemake sets to a job's ``threads`` (snakemake/shell.py, for
# ``script:`` jobs too): 1 under ``--cores 1``. Every job that runs torch sets them
# itself, before torch is imported (``set_thread_variables``); the probe unsets them.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "GOTO_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

# How a scale's devices share its timing processes: every device in each process,
# windows interleaved round by round; or each device in processes of its own, when
# their models do not fit in memory together (``sweep.choose_pairing``).
INTERLEAVED, SEPARATE = "interleaved", "separate"


def usable_cores() -> int:
    """Cores this process may run on: the affinity mask where the OS has one, bounded
    by its control groups' CPU quota (``cpu_quota``; rounded up, at least 1)."""
    if hasattr(os, "sched_getaffinity"):
        n = len(os.sched_getaffinity(0))
    else:
        n = os.cpu_count() or 1
    quota = cpu_quota()
    return n if quota is None else max(1, min(n, math.ceil(quota)))


def cpu_quota() -> float | None:
    """The CPUs a control-group quota allows this process (``memory.cgroup_cpus``:
    ``cpu.max``, or ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``), or None."""
    from .memory import cgroup_cpus  # memory.py imports this module

    return cgroup_cpus()


def available_accelerators() -> list[str]:
    """The accelerators this torch build can use here, in a fixed order (imports torch:
    for a job or a test, never for the plan, which asks ``probe.py``)."""
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def available_devices(facts: dict) -> list[str]:
    """The devices the probe found (``probe.py``): the CPU's two, then the
    accelerators in a fixed order."""
    return ["cpu", "cpu1", *(a for a in ACCELERATORS if a in facts["accelerators"])]


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


def precision_problem(device: str, precision: str, facts: dict) -> str | None:
    """Why ``device`` cannot train in ``precision`` here, in one line; None if it can.

    float32 runs everywhere. bfloat16 (autocast): the CPU runs it always (on a CPU
    without bfloat16 instructions, ``env.cpu_instructions``, emulated and slow, but
    it runs); an accelerator only where the probe found it (``probe.py``: the
    accelerator's ``precisions``; CUDA's from ``torch.cuda.is_bf16_supported()``,
    MPS's from a small autocast product on the device). Facts from a probe that
    predates ``precisions`` allow an accelerator float32 only."""
    if precision not in PRECISIONS:
        allowed = ", ".join(repr(p) for p in PRECISIONS)
        return f"precision {precision!r} is not one of {allowed}"
    if precision == "float32" or device not in ACCELERATORS:
        return None
    found = facts.get("accelerators", {}).get(device)
    if found is None:
        return f"{device} was not found on this machine"
    if precision in found.get("precisions", ["float32"]):
        return None
    name = found.get("name", device)
    if "precisions" not in found:
        return (
            f"{device} ({name}) was probed before precisions were: probe again to "
            f"learn whether it runs {precision}"
        )
    if device == "cuda":
        return (
            f"{name} (compute capability {found.get('capability', '?')}) does not "
            f"run {precision}: torch.cuda.is_bf16_supported() is False"
        )
    return f"{name} does not run {precision}: an autocast matrix product failed"


def check_precisions(precisions: list[str], devices: list[str], facts: dict) -> None:
    """Refuse a precision a device cannot run, before any job: a ValueError naming
    each (``precision_problem``)."""
    problems = [
        f"train.precision = {p!r} cannot run on {d}: {why}"
        for p in precisions
        for d in devices
        if (why := precision_problem(d, p, facts))
    ]
    if problems:
        allowed = "; ".join(problems)
        raise ValueError(
            f"{allowed}; allowed: the precisions every device listed in devices runs "
            "(drop that precision, or run that device in a sweep of its own)"
        )


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


def device_threads(device: str, cpu_threads: int | str, facts: dict) -> int:
    """Intra-op CPU threads a job on ``device`` uses (the host side of an accelerator
    too); "all" is the count torch chooses itself (``all_threads``)."""
    if device == "cpu1":
        return 1
    return all_threads(facts)[0] if cpu_threads == "all" else int(cpu_threads)


def all_threads(facts: dict) -> tuple[int, str]:
    """What ``cpu_threads: all`` means here, and where the count came from: the
    threads torch itself chooses in a fresh process with no thread variables set
    (``probe.py``), bounded by the CPUs this process may run on (``usable_cores``:
    its affinity mask and a control group's CPU quota).

    torch's own default is what its users get, and it leaves out the cores a
    compute-bound loop should not use: on Apple silicon the efficiency cores
    (``intraop_default_num_threads`` reads ``hw.perflevel0.physicalcpu``), on
    most Linux builds the second thread of each core (OpenMP and MKL count
    physical cores)."""
    default, cpu = facts["default_threads"], facts["cpu"]
    n = max(1, min(default, cpu["usable"]))
    why = "torch's own default in a fresh process with no thread variables set"
    why += f" ({default}"
    if cpu.get("performance") and default == cpu["performance"]:
        why += (
            f": the performance cores, hw.perflevel0.physicalcpu, of "
            f"{cpu['logical']} cores"
        )
    elif cpu.get("physical") and cpu["physical"] < cpu["logical"]:
        if default == cpu["physical"]:
            why += f": the physical cores of {cpu['logical']} logical CPUs"
    why += ")"
    if cpu["usable"] < default:
        why += f", bounded by the {cpu['usable']} CPUs this process may run on"
        quota = cpu.get("quota")
        if quota is not None and math.ceil(quota) == cpu["usable"]:
            why += f" (its control group's CPU quota, {quota:g} CPUs)"
    return n, why


def thread_environment(threads: int) -> dict[str, str]:
    """The thread variables of a process whose devices use at most ``threads``."""
    return {name: str(threads) for name in THREAD_VARIABLES}


class TorchLoadedError(RuntimeError):
    """The thread variables were set after torch was imported: too late for a BLAS
    that reads them when it loads."""


def set_thread_variables(threads: int) -> None:
    """Set this process's thread variables to ``threads``, before torch is imported:
    what every job that runs torch does first (the timing worker, the hardware probe,
    the inference check, the untimed jobs). Snakemake sets them to the job's threads
    (1 under ``--cores 1``), and ``torch.set_num_threads`` later reaches OpenMP and
    MKL only; Apple's Accelerate and a pthreads OpenBLAS keep what they read when
    they load. Raises ``TorchLoadedError`` if torch is loaded already."""
    if "torch" in sys.modules:
        raise TorchLoadedError(
            f"the thread variables were set to {threads} after torch was imported; "
            "a BLAS that reads them when it loads would not follow"
        )
    os.environ.update(thread_environment(threads))


def threads_fixed_at_load(facts: dict) -> bool:
    """Whether the BLAS torch calls keeps the thread count it loaded with
    (``probe.blas_threading``), so that devices with different thread counts cannot
    share a process: the one loaded with fewer would do its matrix products on more."""
    return facts["blas_threading"] != "per window"


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
