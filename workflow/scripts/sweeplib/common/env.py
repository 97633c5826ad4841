"""The environment a measurement was taken in: CPU, caches, accelerators, software."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .devices import cpu_quota, usable_cores

SYSFS_CACHES = Path("/sys/devices/system/cpu/cpu0/cache")
CPUINFO = Path("/proc/cpuinfo")
# The x86 instruction sets that bear on bfloat16 (and float32) matrix products, as
# Linux's /proc/cpuinfo names them, in the order they are reported.
X86_INSTRUCTIONS = (
    "avx2",
    "avx512f",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)
# macOS: sysctl names that are 1 where the CPU has an instruction set, and its name
# here (Apple silicon's FEAT_BF16 is Arm's; an Intel Mac reports AVX as x86's).
MAC_INSTRUCTIONS = (
    ("hw.optional.avx2_0", "avx2"),
    ("hw.optional.avx512f", "avx512f"),
    ("hw.optional.arm.FEAT_BF16", "arm_bf16"),
)


def _sysctl(name: str) -> str:
    try:
        out = subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def cpu_model() -> str:
    """The processor's marketing name, or the best the OS tells."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin" and _sysctl("machdep.cpu.brand_string"):
        return _sysctl("machdep.cpu.brand_string")
    return platform.processor() or platform.machine() or "unknown"


def cpu_instructions(cpuinfo: str | Path | None = None) -> str:
    """The bfloat16-relevant instruction sets this CPU offers, space separated: on
    Linux those of ``X86_INSTRUCTIONS`` among the first processor's ``flags`` in
    /proc/cpuinfo (``arm_bf16`` for an Arm CPU whose ``Features`` list ``bf16``); on
    macOS from ``sysctl`` (``MAC_INSTRUCTIONS``); "" where none are found or the
    platform does not tell. ``cpuinfo`` is a cpuinfo file's text (a ``str``) or its
    path (a ``Path``; /proc/cpuinfo by default). A CPU without any of them still
    runs bfloat16 autocast, emulated and slowly."""
    if isinstance(cpuinfo, str):
        text = cpuinfo
    else:
        try:
            text = Path(cpuinfo or CPUINFO).read_text()
        except OSError:
            text = None
    if text is not None:
        return instructions_of_cpuinfo(text)
    if sys.platform == "darwin":
        return " ".join(name for key, name in MAC_INSTRUCTIONS if _sysctl(key) == "1")
    return ""


def instructions_of_cpuinfo(text: str) -> str:
    """The instruction sets of ``cpu_instructions`` in a /proc/cpuinfo text (its first
    ``flags`` or ``Features`` line)."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "flags":
            flags = set(value.split())
            return " ".join(name for name in X86_INSTRUCTIONS if name in flags)
        if key == "Features":
            return "arm_bf16" if "bf16" in value.split() else ""
    return ""


def _size_bytes(text: str) -> int:
    """'32768K' or '32M' (sysfs) as bytes."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    text = text.strip()
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def cpu_last_level_cache() -> int | None:
    """Bytes of the CPU's last-level data cache (the largest level), or None."""
    best = None
    for index in sorted(SYSFS_CACHES.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            size = _size_bytes((index / "size").read_text())
        except (OSError, ValueError, KeyError, IndexError):
            continue
        if kind in ("Data", "Unified") and (best is None or level > best[0]):
            best = (level, size)
    if best:
        return best[1]
    if sys.platform == "darwin":
        for name in ("hw.l3cachesize", "hw.perflevel0.l2cachesize", "hw.l2cachesize"):
            value = _sysctl(name)
            if value.isdigit() and int(value) > 0:
                return int(value)
    return None


def last_level_cache(device: str) -> int | None:
    """Bytes of the last-level cache a device's kernels stream weights through:
    the CPU's, CUDA's L2, or None where the platform does not say (MPS)."""
    if device.startswith("cpu"):
        return cpu_last_level_cache()
    if device == "cuda":
        import torch

        return (
            int(getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 0))
            or None
        )
    return None


def torch_version() -> str:
    """torch's version, read without importing it (importing costs over a second)."""
    return metadata.version("torch")


def hardware_name(device: str, facts: dict) -> str:
    """The hardware a device runs on: the CPU model for CPU devices (the planned
    host's, where the facts carry it: ``sweep.with_host``), otherwise the
    accelerator's name as the probe read it from the framework (``probe.py``)."""
    if device.startswith("cpu"):
        return facts.get("host", {}).get("cpu_model") or cpu_model()
    return facts["accelerators"][device]["name"]


def host_environment() -> dict:
    """Facts shared by every device of this machine."""
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count() or 1,
        "usable_cores": usable_cores(),
        "cpu_quota": quota_text(cpu_quota()),
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch_version(),
    }


def quota_text(quota: float | None) -> str:
    """A control group's CPU quota, as the environment states it."""
    if quota is None:
        return "none"
    return f"{quota:g} CPUs, a control group's quota (it bounds usable_cores)"
