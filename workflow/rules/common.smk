# The plan of runs (each keyed on everything that determines it: sweeplib/runspec.py,
# sweeplib/keys.py), made while the workflow is read (sweeplib/startup.py), and the
# small helpers the rules use to find a run's settings, files and resources.
import json
import re
from dataclasses import asdict
from pathlib import Path

from sweeplib import cluster, keys, manifest
from sweeplib.startup import read_workflow

PLAN = read_workflow(config, workflow)
RUNS = {run.key: run for run in PLAN.runs}
TIMED_THREADS = cluster.timed_threads(
    workflow, max(h["device"]["threads"] for h in PLAN.hardware.values())
)


wildcard_constraints:
    machine=re.escape(PLAN.machine),
    scale=r"\d+",
    key=r"[0-9a-f]{12}",
    device="|".join(PLAN.devices),
    stamp=r"\d+",


def run_spec(wildcards):
    return RUNS[wildcards.key].spec.to_json()


def time_resource(name):
    """A resource of a scale's timing job, for a cluster (sweeplib/cluster.py)."""
    return lambda wildcards: cluster.run_resources(RUNS[wildcards.key].spec, "time")[
        name
    ]


def check_resource(name):
    """A resource of a scale's inference check, for a cluster."""
    return lambda wildcards: cluster.run_resources(RUNS[wildcards.key].spec, "check")[
        name
    ]


def probe_resource(name):
    """A resource of a device's hardware probe, for a cluster."""
    return lambda wildcards: cluster.probe_resources(
        PLAN.hardware[wildcards.device]["device"]
    )[name]


def run_dataset(wildcards):
    return RUNS[wildcards.key].spec.dataset


def dataset_settings(wildcards):
    return json.dumps(asdict(PLAN.datasets[wildcards.key]), sort_keys=True)


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
    here = [
        f"{run.device_folder(d)}/{name}"
        for run in PLAN.runs
        for d in run.spec.device_names
    ]
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
    if not written.exists() or manifest.is_written(PLAN):
        return []
    return [f"results/plan/change-{written.stat().st_mtime_ns}.stamp"]


def plan_text(kind):
    """The text of a plan file: the manifest, this machine's plan or its description."""
    return manifest.text(
        {
            "manifest": lambda: manifest.manifest(PLAN),
            "plan": lambda: manifest.machine_plan(PLAN),
            "info": lambda: PLAN.machine_info,
        }[kind]()
    )


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
