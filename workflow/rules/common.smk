# The plan of runs (each keyed on everything that determines it:
# sweeplib/plan/runspec.py, sweeplib/common/keys.py), made while the workflow is read
# (sweeplib/plan/on_parse.py), and the small helpers the rules use to find a run's
# settings, files and resources.
import json
import re
from dataclasses import asdict
from pathlib import Path

from sweeplib.common import invocation, keys
from sweeplib.plan import brought_in, cluster, plan_files
from sweeplib.plan.on_parse import read_workflow
from sweeplib.plan.sweep import decision_on_disk, on_disk, refined, script_of
from sweeplib.report import failed_run_report, verdict

PLAN = read_workflow(config, workflow)
RUNS = {run.key: run for run in PLAN.runs}
TIMED_THREADS = cluster.timed_threads(
    workflow, max(h["device"]["threads"] for h in PLAN.hardware.values())
)
REFINING = PLAN.config["refine"]["enabled"]


wildcard_constraints:
    machine=re.escape(PLAN.machine),
    scale=keys.FIELDS["scale"],
    key=keys.FIELDS["key"],
    device="|".join(PLAN.devices),
    stamp=r"\d+",
    chain=keys.FIELDS["key"],
    n=r"\d+",


def run_of(key):
    """A planned run: configured, or added by refinement (planned from its pass files
    when this process has not planned it yet, as a job on a cluster node)."""
    if key not in RUNS:
        RUNS.update({r.key: r for r in plan_on_disk().runs})
    return RUNS[key]


def run_spec(wildcards):
    return run_of(wildcards.key).spec.to_json()


def time_resource(name):
    """A resource of a scale's timing job, for a cluster (sweeplib/plan/cluster.py)."""
    return lambda wildcards: cluster.run_resources(run_of(wildcards.key).spec, "time")[
        name
    ]


def check_resource(name):
    """A resource of a scale's inference check, for a cluster."""
    return lambda wildcards: cluster.run_resources(run_of(wildcards.key).spec, "check")[
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
        run = run_of(wildcards.key)
        path = run.spec.dataset
        folders = [Path(run.device_folder(d)) for d in run.spec.device_names]
        return ancient(path) if all((f / done).exists() for f in folders) else path

    return dataset


def dataset_settings(wildcards):
    datasets = PLAN.datasets
    if wildcards.key not in datasets:
        datasets = plan_on_disk().datasets
    return json.dumps(asdict(datasets[wildcards.key]), sort_keys=True)


def hardware_settings(wildcards):
    return json.dumps(PLAN.hardware[wildcards.device], sort_keys=True)


# --- refinement (workflow/rules/refine.smk) ----------------------------------------


def decision_file(n):
    return keys.REFINE_PASS.format(chain=PLAN.refine_chain, n=n)


def decision(n):
    """The decision after pass n, as Snakemake's checkpoint gives it (asking for it
    makes the DAG wait for it)."""
    path = checkpoints.refine_sweep.get(chain=PLAN.refine_chain, n=n).output[0]
    return json.loads(Path(path).read_text())


def final_decision():
    """The decision of the pass that stopped refinement."""
    n = 0
    while not (found := decision(n))["stop"]:
        n += 1
    return found


def planned(found):
    """This machine's plan with the runs a decision lists; each one registered."""
    plan = refined(PLAN, found)
    RUNS.update({r.key: r for r in plan.runs})
    return plan


def sweep_plan():
    """This machine's plan once refinement has stopped (the configured one without)."""
    return planned(final_decision()) if REFINING else PLAN


def reported_plan():
    """The plan the aggregation reads: once refinement has stopped; for the report
    after a failed job, with what refinement decided so far (it runs no checkpoint)."""
    return (
        planned(decision_on_disk(PLAN.refine_dir))
        if invocation.partial()
        else sweep_plan()
    )


def plan_on_disk():
    """The plan with what the pass files already on disk add (reads only)."""
    return on_disk(PLAN)


def refine_inputs(wildcards):
    """Pass n's decision reads every run measured so far, and the decision before."""
    n = int(wildcards.n)
    plan = planned(decision(n - 1)) if n else PLAN
    return {
        "timings": [
            f"{r.device_folder(d)}/timings.csv"
            for r in plan.runs
            for d in r.spec.device_names
        ],
        "previous": [decision_file(n - 1)] if n else [],
    }


def refine_settings(wildcards):
    return json.dumps(
        {
            "baseline": PLAN.baseline,
            "analysis": PLAN.config["analysis"],
            "refine": PLAN.config["refine"],
        },
        sort_keys=True,
    )


def refinement_done(wildcards):
    """The last pass file, once refinement has stopped (nothing without it, or for
    the report after a failed job)."""
    if not REFINING or invocation.partial():
        return []
    return [decision_file(final_decision()["pass"])]


# --- files (where each lives: sweeplib/common/keys.py) -----------------------------


def entry_script(rule):
    """A rule's script, as the plan hashes it into the key of the rule's result
    (sweeplib/plan/sweep.py: RULES); a rule in none of its lists stops the workflow
    as it is read."""
    return f"../scripts/{script_of(rule)}"


def log_of(job):
    """The log of a job whose result has no folder of its own."""
    return keys.LOG.format(job=job)


def device_files(name):
    """One file per device of a scale's run, as an output pattern."""
    pattern = keys.DEVICE_RUN.format(
        machine="{{machine}}", scale="{{scale}}", key="{{key}}", device="{device}"
    )
    return expand(f"{pattern}/{name}", device=PLAN.devices)


def all_device_files(name):
    """That file of every device of every run (an input function): this machine's,
    refinement's included, and those of the other machines' plans that were copied
    in with their folders. (A report written after a failed job reads only this
    machine's files that are there, and what refinement decided so far:
    sweeplib/report/failed_run_report.py.)"""

    def files(wildcards):
        runs = reported_plan().runs
        here = [
            f"{r.device_folder(d)}/{name}" for r in runs for d in r.spec.device_names
        ]
        return failed_run_report.present(here) + imported_files(name)

    return files


def imported_files(name):
    """Paths derived from each imported machine's folder and keys, never read from
    its plan (sweeplib/plan/brought_in.py)."""
    return [
        path
        for tag, plan in PLAN.imported.items()
        for path in brought_in.run_files(tag, plan, name)
    ]


def plan_change(wildcards=None):
    """Nothing while the plan's manifest (keys.PLAN) holds this plan (or is missing);
    otherwise a stamp named after the written plan's date, so it cannot exist yet.
    `all` asks for it, so it is made, and write_plan reads it, so it reruns, and
    with it all that reads the plan: with or without Snakemake's metadata, and in a
    dry run too (this check only reads)."""
    written = Path(keys.PLAN)
    if not written.exists() or plan_files.is_written(plan_on_disk()):
        return []
    return [keys.PLAN_CHANGE.format(stamp=written.stat().st_mtime_ns)]


def plan_text(kind):
    """The text of a plan file, refinement's runs included (a params function, so
    that braces in it, a note quoting another machine's file, are never read as
    wildcards): the manifest, this machine's plan or its description."""
    write = {
        "manifest": plan_files.manifest,
        "plan": plan_files.machine_plan,
        "info": lambda plan: plan.machine_info,
    }[kind]
    return lambda wildcards: plan_files.text(write(reported_plan()))


def hardware_files():
    here = [
        keys.HARDWARE.format(machine=PLAN.machine, device=d, key=h["key"])
        for d, h in PLAN.hardware.items()
    ]
    there = [
        path
        for tag, plan in PLAN.imported.items()
        for path in brought_in.hardware_files(tag, plan)
    ]
    return failed_run_report.present(here) + there


def machine_file(pattern):
    return pattern.format(machine=PLAN.machine)


def toy_file(name):
    return f"{keys.TOY.format(key=PLAN.toy_key)}/{name}"
