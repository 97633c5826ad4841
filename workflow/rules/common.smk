# The plan of runs (each keyed on everything that determines it: sweeplib/runspec.py,
# sweeplib/keys.py), made while the workflow is read (sweeplib/startup.py), and the
# small helpers the rules use to find a run's settings, files and resources.
import json
import re
from dataclasses import asdict
from pathlib import Path

from sweeplib import aftermath, cluster, imports, keys, manifest
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


def run_dataset(done):
    """A run's dataset, as the input of the job that writes ``done`` in each device's
    folder. Once the job is done, the dataset's date is ignored (ancient): its key
    names all it holds, and a dataset touched or copied without its dates must not
    re-measure. Until then a plain input, so that the job follows a dataset that is
    remade (Snakemake never looks again at a job downstream of one that reruns, if
    its inputs are ancient)."""

    def dataset(wildcards):
        run = RUNS[wildcards.key]
        path = run.spec.dataset
        folders = [Path(run.device_folder(d)) for d in run.spec.device_names]
        return ancient(path) if all((f / done).exists() for f in folders) else path

    return dataset


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
    other machines' plans that were copied in with their folders. (A report written
    after a failed job reads only this machine's files that are there:
    sweeplib/aftermath.py.)"""
    here = [
        f"{run.device_folder(d)}/{name}"
        for run in PLAN.runs
        for d in run.spec.device_names
    ]
    return aftermath.present(here) + imported_files(name)


def imported_files(name):
    """Paths derived from each imported machine's folder and keys, never read from
    its plan (sweeplib/imports.py)."""
    return [
        path
        for tag, plan in PLAN.imported.items()
        for path in imports.run_files(tag, plan, name)
    ]


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
    """The text of a plan file: the manifest, this machine's plan or its description.
    A function of the wildcards, so that braces in it (a note quoting another
    machine's file) are never read as wildcards."""
    text = manifest.text(
        {
            "manifest": lambda: manifest.manifest(PLAN),
            "plan": lambda: manifest.machine_plan(PLAN),
            "info": lambda: PLAN.machine_info,
        }[kind]()
    )
    return lambda wildcards: text


def hardware_files():
    here = [
        keys.HARDWARE.format(machine=PLAN.machine, device=d, key=h["key"])
        for d, h in PLAN.hardware.items()
    ]
    there = [
        path
        for tag, plan in PLAN.imported.items()
        for path in imports.hardware_files(tag, plan)
    ]
    return aftermath.present(here) + there


def machine_file(pattern):
    return pattern.format(machine=PLAN.machine)


def toy_file(name):
    return f"{keys.TOY.format(key=PLAN.toy_key)}/{name}"
