"""What the workflow does while Snakemake reads it (``workflow/rules/common.smk``).

Snakemake reads the workflow for a real run and equally for a dry run,
``--lint`` and the like, and again in every job on a cluster node. Each time,
the sweep is planned (``sweep.py``). On a real run's main process only
(``invocation.runs_jobs``), a lock left by a killed run is removed if it is
provably stale, and the run records itself as the owner of the locks Snakemake
is about to take (``locks.py``); and the facts the plan was made with are put in
the environment, for the jobs that read the workflow again on other nodes: the
memory it planned with, what the probe found (devices, their names, threads)
and the host's facts (CPU model, usable cores, torch: ``sweep.with_host``), so
that they plan the same runs. A run with nothing to do reuses the
last probe's answer (``plan_here``). The Snakemake started for the report
after a failed job (``failed_run_report.py``) leaves the locks to the run that started
it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..common import invocation, locks
from ..common.invocation import partial, runs_jobs
from .probe import INHERITED, ProbeError, remember, remembered
from .sweep import PLANNED_MEMORY, Plan, PlanError, all_measured, plan_sweep


def read_workflow(config: dict, workflow) -> Plan:
    """The sweep's plan; an impossible config stops Snakemake with its message."""
    try:
        plan, probed = plan_here(config, Path(workflow.basedir) / "workflow")
    except (PlanError, ProbeError) as error:
        sys.exit(f"Error: {error}")
    for note in plan.notes:
        print(f"Note: {note}", file=sys.stderr)
    if runs_jobs(workflow):
        if not partial():
            locks.report(*locks.clear_stale_locks())
            locks.record_owner()
            invocation.watch_interrupts()
        if probed:
            remember(plan.facts)
        os.environ[PLANNED_MEMORY] = json.dumps(plan.free)
        os.environ[INHERITED] = json.dumps(plan.facts)
    return plan


def plan_here(config: dict, base: Path) -> tuple[Plan, bool]:
    """The plan, and whether torch was asked afresh for it. The last probe's answer
    (``probe.remembered``) plans as well while nothing it depends on has changed,
    but it holds a CUDA device's free memory of that time: it is used only if every
    run it plans was measured already (a run with nothing to do); otherwise the
    probe is asked again."""
    scripts, schema = base / "scripts", base / "schemas" / "config.schema.yaml"
    facts = None if os.environ.get(INHERITED) else remembered()
    if facts is not None:
        plan = plan_sweep(config, scripts, schema, facts)
        if all_measured(plan):
            return plan, False
    return plan_sweep(config, scripts, schema), True
