"""The report after a failed job: one scale killed for memory, a full disk or a crash
must not hide every other scale's results.

With ``keep-going`` Snakemake runs every job it can, but never one whose inputs a
failed job did not make: the aggregation, which reads every scale's files, is
skipped, and the report with it. So, when a run ends with a failed job that left
one of this machine's planned results missing (``onerror`` in
``workflow/rules/report.smk``), Snakemake is started once more, in the same
folder, for the report alone (``partial_command``): its aggregation reads only
this machine's files that are there (``present``), the report marks each run
without them as failed, with the last line of its job's log (``failures.py``),
and no rule that measures may run. The first run's exit status still says a
job failed; a plain rerun retries the failed jobs (``rule all`` asks for
``missing_results`` by name). A run the user stopped (Ctrl-C, SIGTERM) just
stops.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from ..common import keys
from ..common.invocation import PARTIAL, interrupted, partial

# The rules that run then: the plan and the aggregation, never a measurement.
REPORT_RULES = (
    "note_plan_change",
    "write_plan",
    "aggregate_results",
    "analyse_sweep",
    "plot_sweep",
    "write_report",
)
REPORT = keys.REPORT


def present(paths: list[str]) -> list[str]:
    """``paths`` as the aggregation's inputs: all of them, or, for the report after a
    failure, those that exist."""
    return [p for p in paths if Path(p).exists()] if partial() else paths


def missing_results(plan) -> list[str]:
    """This machine's planned result files that are not there (a job failed, or has
    yet to run). ``rule all`` asks for them by name: a report written without them
    is newer than everything it read, and Snakemake would not otherwise retry a
    job whose outputs only that report's inputs name."""
    files = [
        f"{run.device_folder(d)}/{name}"
        for run in plan.runs
        for d in run.spec.device_names
        for name in ("timings.csv", "inference.csv")
    ]
    files += [
        keys.HARDWARE.format(machine=plan.machine, device=d, key=h["key"])
        for d, h in plan.hardware.items()
    ]
    return [f for f in files if not Path(f).exists()]


def report_after_failure(workflow, plan) -> int | None:
    """After a failed run: write the report from what was measured, if a job left
    results missing, the user did not stop the run, and this is not already the run
    for that; its exit status, or None when there was nothing to do."""
    if partial() or interrupted(workflow) or not missing_results(plan):
        return None
    print(
        "A job failed, so the report is written from the results that are here; the "
        "failed runs are marked in it.",
        file=sys.stderr,
    )
    command = partial_command(workflow)
    return subprocess.run(command, env={**os.environ, PARTIAL: "1"}).returncode


def partial_command(workflow) -> list[str]:
    """Snakemake for the report alone, with the same Snakefile, folder and settings
    (the config files and --config values merged into one file)."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(workflow.main_snakefile),
        "--directory",
        os.getcwd(),
        "--cores",
        "1",
        "--nolock",
        "--rerun-incomplete",
        "--forcerun",
        "aggregate_results",
        "--allowed-rules",
        *REPORT_RULES,
    ]
    given = dict(workflow.config_settings.overwrite_config)
    if given:
        path = Path(".snakemake", "partial-report-config.yaml")
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(_plain(given)))
        command += ["--configfile", str(path)]
    return [*command, "--", REPORT]


def _plain(obj):
    """Snakemake's config values as plain YAML types."""
    if isinstance(obj, dict) or hasattr(obj, "items"):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
