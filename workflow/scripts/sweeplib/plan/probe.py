"""What this machine's torch offers, asked in a short-lived process of its own.

Snakemake's process plans the sweep, and it must never import torch for that:
``torch.cuda.mem_get_info()`` creates a CUDA context, which would hold a few
hundred MB of GPU memory for the whole run and, under the ``EXCLUSIVE_PROCESS``
compute mode, lock every timing worker out of the GPU. So the plan asks
``python -m sweeplib.plan.probe``, started with no thread variables set
(``devices.THREAD_VARIABLES``), and reads its answer:

- ``default_threads``: ``torch.get_num_threads()`` of a fresh process, the
  count torch chooses itself (on Apple silicon the performance cores,
  ``hw.perflevel0.physicalcpu``; elsewhere what OpenMP and MKL choose, the
  physical cores on most builds);
- ``blas``, ``blas_threading`` and ``parallel``: the BLAS torch was built
  with, whether ``torch.set_num_threads`` reaches it (``blas_threading``), and
  torch's parallel backend (``torch.__config__``);
- ``cpu``: the platform's own counts of logical, physical and performance
  cores, the CPUs this process may run on, and its control groups' CPU quota
  (``devices.usable_cores``), to say where the count came from;
- ``accelerators``: each one's name, memory (free and total for CUDA, read in
  this process and released when it exits), what tells two models apart, and
  ``precisions``, those of ``devices.PRECISIONS`` it can train in
  (``devices.precision_problem``): CUDA's bfloat16 where
  ``torch.cuda.is_bf16_supported()`` (emulated on a GPU before compute
  capability 8.0: ``bf16_native`` tells), MPS's where a small matrix product
  under bfloat16 autocast runs on it and gives bfloat16 (``autocast_works``).

Jobs that read the workflow again on a cluster node inherit the main
process's answer (``INHERITED``), with the host facts the plan added to it
(``sweep.with_host``), so that they plan the same runs even where the node
hides the GPUs a job did not ask for, has another CPU, or gives the job a
smaller cpuset.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from ..common.devices import THREAD_VARIABLES, cpu_quota, usable_cores

# The facts the main Snakemake process planned with (JSON), for the jobs that read
# the workflow again on other nodes.
INHERITED = "SWEEP_PLANNED_MACHINE"


class ProbeError(RuntimeError):
    """The probe process failed: torch cannot be imported or asked here."""


def machine_facts() -> dict:
    """The facts the main process planned with, or a fresh probe's."""
    inherited = os.environ.get(INHERITED)
    if inherited:
        return json.loads(inherited)
    return run_probe()


# The last probe's answer, with what it depends on: a plan whose runs are all
# measured already may reuse it (on_parse.py), which saves importing torch (over a
# second) on a run with nothing to do.
REMEMBERED = Path(".snakemake") / "sweep" / "probe.json"


def fingerprint() -> dict:
    """What the probe's answer depends on, known without importing torch: this
    interpreter, torch's installed files, the host and its boot, the CPUs this
    process may run on, and the variables that hide or show accelerators."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    origin = Path(spec.origin) if spec and spec.origin else None
    boot = Path("/proc/sys/kernel/random/boot_id")
    return {
        "python": sys.executable,
        "version": sys.version,
        "torch": str(origin),
        "torch_mtime": origin.stat().st_mtime_ns if origin else None,
        "node": platform.node(),
        "boot": boot.read_text().strip() if boot.exists() else None,
        "usable": usable_cores(),
        "env": {k: os.environ.get(k) for k in VISIBILITY},
    }


VISIBILITY = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")


def remembered(path: Path = REMEMBERED) -> dict | None:
    """The last probe's answer, if nothing it depends on has changed since."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return saved["facts"] if saved.get("fingerprint") == fingerprint() else None


def remember(facts: dict, path: Path = REMEMBERED) -> None:
    """Keep a fresh probe's answer for the next run (a real run only: never a dry
    run, which writes nothing)."""
    from ..common.atomic import write_text

    write_text(path, json.dumps({"fingerprint": fingerprint(), "facts": facts}))


def run_probe(timeout: float = 300) -> dict:
    """Start the probe with no thread variables set and return its facts."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-m", f"{__package__}.probe"],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise ProbeError(
            f"asking torch what this machine offers failed (exit {done.returncode}):"
            f"\n{tail}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- inside the probe process -----------------------------------------------------


def probe() -> dict:
    import torch

    return {
        "torch": torch.__version__,
        "default_threads": torch.get_num_threads(),
        "blas": (blas := blas_of(torch.__config__.show())),
        "blas_threading": blas_threading(blas),
        "parallel": parallel_backend_of(torch.__config__.parallel_info()),
        "cpu": cpu_counts(),
        "accelerators": {
            **({"cuda": cuda_facts(torch)} if torch.cuda.is_available() else {}),
            **({"mps": mps_facts(torch)} if torch.backends.mps.is_available() else {}),
        },
    }


def blas_of(config: str) -> str:
    """``BLAS_INFO`` of torch's build settings (``mkl``, ``accelerate``, ``open``,
    ...), or ``none``."""
    found = re.search(r"BLAS_INFO=([^,\s]+)", config)
    return found.group(1) if found else "none"


def blas_threading(blas: str) -> str:
    """How the BLAS torch calls for its matrix products takes its thread count:
    ``per window`` when ``torch.set_num_threads`` reaches it at any moment, ``at
    load`` when it keeps what it read when it loaded.

    torch calls ``mkl_set_num_threads_local`` and ``omp_set_num_threads`` and no
    other library's setter (``aten/src/ATen/ParallelOpenMP.cpp``): MKL and a BLAS
    threaded with OpenMP follow (the OpenBLAS of PyTorch's aarch64 wheels is built
    with ``USE_OPENMP=1``, their NVPL is the ``_gomp`` variant); Apple's Accelerate,
    a pthreads OpenBLAS and anything unknown do not."""
    if blas in ("mkl", "none"):
        return "per window"
    if blas == "open":
        return "per window" if _openblas_parallel() == 2 else "at load"
    if blas == "nvpl":
        return "per window" if _loaded("libnvpl_blas", "gomp") else "at load"
    return "at load"


def _openblas_parallel() -> int | None:
    """OpenBLAS's own word on its threading: 0 none, 1 pthreads, 2 OpenMP."""
    import ctypes

    try:
        return int(ctypes.CDLL(None).openblas_get_parallel())
    except (AttributeError, OSError):
        return None


def _loaded(library: str, variant: str) -> bool:
    """Whether a loaded shared library's path names ``library`` and ``variant``."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    return any(library in line and variant in line for line in maps.splitlines())


def parallel_backend_of(info: str) -> str:
    found = re.search(r"ATen parallel backend: (.+)", info)
    return found.group(1).strip() if found else "unknown"


def cuda_facts(torch) -> dict:
    p = torch.cuda.get_device_properties(0)
    free, total = torch.cuda.mem_get_info(0)  # creates a context: in this process only
    return {
        "name": torch.cuda.get_device_name(0),
        "capability": f"{p.major}.{p.minor}",
        "multiprocessors": int(p.multi_processor_count),
        "l2_bytes": int(getattr(p, "L2_cache_size", 0)),
        "total_bytes": int(total),
        "free_bytes": int(free),
        "precisions": [
            "float32",
            *(["bfloat16"] if torch.cuda.is_bf16_supported() else []),
        ],
        "bf16_native": bool(torch.cuda.is_bf16_supported(including_emulation=False)),
    }


def mps_facts(torch) -> dict:
    from ..common.env import cpu_model

    return {
        "name": f"Apple MPS ({cpu_model()})",
        "gpu_cores": apple_gpu_cores(),
        "recommended_max_bytes": int(torch.mps.recommended_max_memory()),
        "precisions": [
            "float32",
            *(["bfloat16"] if autocast_works(torch, "mps") else []),
        ],
    }


def autocast_works(torch, device_type: str) -> bool:
    """Whether a small matrix product under bfloat16 autocast runs on the device and
    gives bfloat16 of the right value. Where autocast does not support the dtype
    there, torch warns and runs float32 instead (MPS before macOS 14): that is a
    no."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = torch.ones(8, 8, device=device_type)
            with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
                out = a @ a
            value = out.float().cpu()  # waits for the device
    except (RuntimeError, TypeError, ValueError):
        return False
    return out.dtype == torch.bfloat16 and bool((value == 8).all())


def cpu_counts() -> dict:
    """The platform's own counts: logical CPUs, physical cores, performance cores
    (Apple silicon), the CPUs this process may run on, and the CPUs a control-group
    quota allows it. None where not told."""
    counts = {
        "logical": os.cpu_count(),
        "physical": None,
        "performance": None,
        "usable": usable_cores(),
        "quota": cpu_quota(),
        "platform": sys.platform,
        "machine": platform.machine(),
    }
    if sys.platform == "darwin":
        counts["physical"] = _sysctl_int("hw.physicalcpu")
        counts["performance"] = _sysctl_int("hw.perflevel0.physicalcpu")
    else:
        counts["physical"] = linux_physical_cores()
    return counts


def linux_physical_cores(root: Path = Path("/sys/devices/system/cpu")) -> int | None:
    """Distinct (package, core) pairs among the online CPUs, from sysfs topology."""
    cores = set()
    for cpu in root.glob("cpu[0-9]*/topology"):
        try:
            cores.add(
                (
                    (cpu / "physical_package_id").read_text().strip(),
                    (cpu / "core_id").read_text().strip(),
                )
            )
        except OSError:
            continue
    return len(cores) or None


def apple_gpu_cores() -> int | None:
    """The GPU's core count as macOS reports it (``ioreg``), or None."""
    try:
        out = subprocess.run(
            ["ioreg", "-rc", "AGXAccelerator", "-d", "1"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'"gpu-core-count"\s*=\s*(\d+)', out)
    return int(found.group(1)) if found else None


def _sysctl_int(name: str) -> int | None:
    try:
        out = subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return int(out) if out.isdigit() else None


if __name__ == "__main__":
    print(json.dumps(probe()))
