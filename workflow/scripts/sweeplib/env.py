"""The environment a measurement was taken in."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from importlib import metadata

from .devices import usable_cores


def cpu_model() -> str:
    """The processor's marketing name, or the best the OS tells."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def torch_version() -> str:
    """torch's version, read without importing it (importing costs over a second)."""
    return metadata.version("torch")


def accelerator_name(device: str) -> str:
    """The name the framework reports for the device (the CPU model for CPU devices)."""
    if device.startswith("cpu"):
        return cpu_model()
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(0)
    if device == "mps":
        return f"Apple MPS ({cpu_model()})"
    return device


def host_environment() -> dict:
    """Facts shared by every device of this machine."""
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count() or 1,
        "usable_cores": usable_cores(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch_version(),
    }


def machine_id(device_name: str, env: dict) -> str:
    """A short tag of the hardware class and software a result belongs to.

    Results carry it so that tables never mix machines silently: two machines
    share a tag only if they have the same device, CPU model, core count and
    torch build.
    """
    text = "|".join([device_name, env["cpu_model"], str(env["usable_cores"]), env["torch"]])
    return hashlib.sha256(text.encode()).hexdigest()[:8]
