"""What a cluster should give each job (``profiles/slurm``): the threads, memory,
time, GPU and exclusivity of the timed jobs, stated once for the rules.

Timed jobs (a scale's timing and its inference check, a device's hardware
probe) must never share cores: locally each claims every core Snakemake was
given; on a cluster each asks for the cores its devices use and the node to
itself (``--exclusive``).
"""

from __future__ import annotations

from ..common.memory import check_needs, timing_needs
from .runspec import RunSpec

EXCLUSIVE = "--exclusive"
MIB = 2**20
# A hardware probe's needs: its two copy buffers and two matrices, and the runtime.
PROBE_MEMORY_MB = 4096
PROBE_MINUTES = 10
CHECK_MINUTES = 30


def timed_threads(workflow, devices_threads: int) -> int:
    """The threads a timed job claims: every core Snakemake was given, so that no other
    job runs beside it; under a cluster executor without ``--cores``
    (profiles/slurm), the cores its devices use (the job has its node to itself)."""
    from snakemake.exceptions import WorkflowError

    try:
        return workflow.cores
    except WorkflowError:
        return devices_threads


def run_resources(spec: RunSpec, job: str) -> dict:
    """What a cluster should give a run's ``time`` or ``check`` job: host memory from
    the estimate (with a fifth more), a time limit, every core its devices use, a GPU
    for CUDA, and the node to itself."""
    models, nbytes = spec.footprint()
    if job == "time":
        held = [{d: models[d] for d in p.devices} for p in spec.processes()]
        needs = [timing_needs(h, nbytes) for h in held]
    else:
        needs = [check_needs(models, nbytes)]
    return {
        "mem_mb": int(1.2 * max(n["host"] for n in needs) / MIB) + 1,
        "runtime": runtime_minutes(spec) if job == "time" else CHECK_MINUTES,
        "cpus_per_task": max(d.threads for d in spec.devices),
        "gpu": int("cuda" in spec.device_names),
        "slurm_extra": EXCLUSIVE,
    }


def probe_resources(device: dict) -> dict:
    """What a cluster should give a device's hardware probe."""
    return {
        "mem_mb": PROBE_MEMORY_MB,
        "runtime": PROBE_MINUTES,
        "cpus_per_task": device["threads"],
        "gpu": int(device["name"] == "cuda"),
        "slurm_extra": EXCLUSIVE,
    }


def runtime_minutes(spec: RunSpec) -> int:
    """A generous time limit for a scale's timing job: a minute per process to start
    and build, and every step at 10 ms plus 10 ns per parameter (a slow CPU thread);
    the steps are the schedule's (``RunSpec.schedule``), plus an accelerator's
    least warm-up and switch times; a budgeted run's budget and one more process."""
    schedule = spec.schedule()
    step_s = 0.01 + 1e-8 * spec.params
    least = schedule.accelerator_warmup_s + schedule.rounds * (
        schedule.accelerator_switch_s
    )
    per_process = 60 + schedule.steps_per_device * step_s + least
    seconds = sum(per_process * len(p.devices) for p in spec.processes())
    if spec.budgeted:  # its processes start while they fit: one more at most
        seconds = max(seconds, spec.timing.seconds + per_process * len(spec.devices))
    return int(seconds / 60) + 10
