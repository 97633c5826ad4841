# The plan of runs (each keyed on everything that affects it; sweeplib/keys.py)
# and the small helpers the rules use to find a run's settings and files.
import json
import sys
from pathlib import Path

from sweeplib import keys
from sweeplib.invocation import runs_jobs
from sweeplib.locks import clear_stale_locks
from sweeplib.plan import PlanError, plan_sweep

try:
    PLAN = plan_sweep(
        config,
        Path(workflow.basedir) / "workflow" / "scripts",
        Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml",
    )
except PlanError as error:
    sys.exit(f"Error: {error}")

for note in PLAN.notes:
    print(f"Note: {note}", file=sys.stderr)

# Only a real run touches the disk while the workflow is read (never a dry run).
if runs_jobs(workflow) and clear_stale_locks():
    print(
        "Removed a stale lock left by a killed run (no other Snakemake runs here).",
        file=sys.stderr,
    )

RUNS = {run.key: run for run in PLAN.runs}


wildcard_constraints:
    scale=r"\d+",
    key=r"[0-9a-f]{12}",
    device="|".join(PLAN.devices),
    stamp=r"\d+",


def run_settings(wildcards):
    return json.dumps(RUNS[wildcards.key].settings, sort_keys=True)


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
        scale="{{scale}}", key="{{key}}", device="{device}"
    )
    return expand(f"{pattern}/{name}", device=PLAN.devices)


def all_device_files(name):
    """That file of every device of every run of the plan."""
    return [f"{run.device_folder(d)}/{name}" for run in PLAN.runs for d in run.devices]


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


def hardware_files():
    return [
        keys.HARDWARE.format(device=d, key=h["key"]) for d, h in PLAN.hardware.items()
    ]


def toy_file(name):
    return f"{keys.TOY.format(key=PLAN.toy_key)}/{name}"
