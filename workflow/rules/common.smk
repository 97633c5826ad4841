# Validation, the plan of runs (each keyed on everything that affects it), and
# the small helpers the rules use to look a run up from its wildcards.
import json
import sys
from pathlib import Path

SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"

from sweeplib.plan import plan_sweep, PlanError

try:
    PLAN = plan_sweep(
        config, SCRIPTS, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
    )
except PlanError as error:
    sys.exit(f"Error: {error}")

PLAN.write_manifest("results/sweep.json")
RUNS = {run.key: run for run in PLAN.runs}


wildcard_constraints:
    scale=r"\d+",
    device=r"cpu1?|cuda|mps",
    key=r"[0-9a-f]{12}",


def run_of(wildcards):
    return RUNS[wildcards.key]


def run_settings(wildcards):
    return json.dumps(run_of(wildcards).settings, sort_keys=True)


def run_dataset(wildcards):
    run = run_of(wildcards)
    return f"results/datasets/scale{run.scale}/{run.dataset_key}.pt"


def dataset_settings(wildcards):
    return json.dumps(PLAN.datasets[wildcards.dkey], sort_keys=True)


def hardware_settings(wildcards):
    return json.dumps(PLAN.hardware[wildcards.device], sort_keys=True)


def run_files(name):
    return [f"{run.folder}/{name}" for run in PLAN.runs]


def hardware_files():
    return [f"results/hardware/{d}/{h['key']}.csv" for d, h in PLAN.hardware.items()]
