# The plan of runs (each keyed on everything that affects it; sweeplib/keys.py)
# and the small helpers the rules use to find a run's settings and files.
import json
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from sweeplib import keys
from sweeplib.invocation import runs_jobs
from sweeplib.locks import clear_stale_locks
from sweeplib.plan import PLANNED_MEMORY, PlanError, plan_sweep
from sweeplib.probe import INHERITED, ProbeError

try:
    PLAN = plan_sweep(
        config,
        Path(workflow.basedir) / "workflow" / "scripts",
        Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml",
    )
except (PlanError, ProbeError) as error:
    sys.exit(f"Error: {error}")

for note in PLAN.notes:
    print(f"Note: {note}", file=sys.stderr)

# Only a real run touches the disk while the workflow is read (never a dry run).
if runs_jobs(workflow):
    if clear_stale_locks():
        print(
            "Removed a stale lock left by a killed run (no other Snakemake runs here).",
            file=sys.stderr,
        )
    # Jobs on a cluster read the workflow again, on a node busy with other jobs and
    # perhaps without the GPUs they did not ask for: they inherit the memory and the
    # machine's facts (devices, their names, threads) this plan was made with, and so
    # plan the same runs.
    os.environ[PLANNED_MEMORY] = json.dumps(PLAN.free)
    os.environ[INHERITED] = json.dumps(PLAN.facts)

RUNS = {run.key: run for run in PLAN.runs}

# The threads a timed job claims: every core Snakemake was given, so that no other
# job runs beside it. A cluster executor may run without --cores (profiles/slurm);
# a timed job then claims the cores its devices use, and has its node to itself.
try:
    TIMED_THREADS = workflow.cores
except WorkflowError:
    TIMED_THREADS = max(h["device"]["threads"] for h in PLAN.hardware.values())


wildcard_constraints:
    machine=re.escape(PLAN.machine),
    scale=r"\d+",
    key=r"[0-9a-f]{12}",
    device="|".join(PLAN.devices),
    stamp=r"\d+",


def run_settings(wildcards):
    return json.dumps(RUNS[wildcards.key].settings, sort_keys=True)


def time_resource(name):
    """A resource of a scale's timing job, for a cluster (ScaleRun.resources)."""
    return lambda wildcards: RUNS[wildcards.key].resources("time")[name]


def check_resource(name):
    """A resource of a scale's inference check, for a cluster."""
    return lambda wildcards: RUNS[wildcards.key].resources("check")[name]


def run_dataset(wildcards):
    run = RUNS[wildcards.key]
    return keys.DATASET.format(scale=run.scale, key=run.dataset_key)


def dataset_settings(wildcards):
    return json.dumps(PLAN.datasets[wildcards.key], sort_keys=True)


def hardware_settings(wildcards):
    return json.dumps(PLAN.hardware[wildcards.device], sort_keys=True)


def device_files(name):
    """One file per device of a scale's run, as an output pattern."""
    pattern = keys.DEVICE_RUN.format(
        machine="{{machine}}", scale="{{scale}}", key="{{key}}", device="{device}"
    )
    return expand(f"{pattern}/{name}", device=PLAN.devices)


def all_device_files(name):
    """That file of every device of every run: this machine's, and those of the
    other machines' plans that were copied in with their folders."""
    here = [f"{run.device_folder(d)}/{name}" for run in PLAN.runs for d in run.devices]
    return here + imported_files(name)


def imported_files(name):
    found = []
    for plan in PLAN.imported.values():
        for run in plan["runs"]:
            paths = [Path(run["folder"]) / d / name for d in run["devices"]]
            found += [str(p) for p in paths if p.exists()]
    return found


def plan_change(wildcards=None):
    """Nothing while results/plan/sweep.json holds this plan (or is missing);
    otherwise a stamp named after the written plan's date, so it cannot exist yet.
    `all` asks for it, so it is made, and write_plan reads it, so it reruns, and
    with it all that reads the plan: with or without Snakemake's metadata, and in a
    dry run too (this check only reads)."""
    written = Path(keys.PLAN)
    if not written.exists() or PLAN.is_written():
        return []
    return [f"results/plan/change-{written.stat().st_mtime_ns}.stamp"]


def hardware_threads(wildcards):
    return PLAN.hardware[wildcards.device]["device"]["threads"]


def hardware_gpu(wildcards):
    return int(wildcards.device == "cuda")


def hardware_files():
    here = [
        keys.HARDWARE.format(machine=PLAN.machine, device=d, key=h["key"])
        for d, h in PLAN.hardware.items()
    ]
    there = [
        h["file"]
        for plan in PLAN.imported.values()
        for h in plan["hardware"].values()
        if Path(h["file"]).exists()
    ]
    return here + there


def machine_file(pattern):
    return pattern.format(machine=PLAN.machine)


def toy_file(name):
    return f"{keys.TOY.format(key=PLAN.toy_key)}/{name}"
