"""What the workflow does while Snakemake reads it (``workflow/rules/common.smk``).

Snakemake reads the workflow for a real run and equally for a dry run,
``--lint`` and the like, and again in every job on a cluster node. Each time,
the sweep is planned (``plan.py``). On a real run's main process only
(``invocation.runs_jobs``), a lock left by a killed run is removed if it is
provably stale, and the run records itself as the owner of the locks Snakemake
is about to take (``locks.py``); and the facts the plan was made with are put in
the environment, for the jobs that read the workflow again on other nodes: the
memory it planned with, and what the probe found (devices, their names,
threads), so that they plan the same runs. The Snakemake started for the report
after a failed job (``aftermath.py``) leaves the locks to the run that started it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from . import aftermath, locks
from .aftermath import partial
from .invocation import runs_jobs
from .plan import PLANNED_MEMORY, Plan, PlanError, plan_sweep
from .probe import INHERITED, ProbeError


def read_workflow(config: dict, workflow) -> Plan:
    """The sweep's plan; an impossible config stops Snakemake with its message."""
    base = Path(workflow.basedir) / "workflow"
    try:
        plan = plan_sweep(
            config, base / "scripts", base / "schemas" / "config.schema.yaml"
        )
    except (PlanError, ProbeError) as error:
        sys.exit(f"Error: {error}")
    for note in plan.notes:
        print(f"Note: {note}", file=sys.stderr)
    if runs_jobs(workflow):
        if not partial():
            locks.report(*locks.clear_stale_locks())
            locks.record_owner()
            aftermath.watch_interrupts()
        os.environ[PLANNED_MEMORY] = json.dumps(plan.free)
        os.environ[INHERITED] = json.dumps(plan.facts)
    return plan
