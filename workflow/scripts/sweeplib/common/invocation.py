"""What this invocation of Snakemake will do, read while the Snakefile is parsed.

Parsing happens for a real run and equally for a dry run, ``--lint``,
``--summary``, ``--list-untracked``, ``--dag``, ``--report`` and the like, and
again inside every remote job. Anything the workflow does to the disk while
parsing (removing a stale lock) must happen on a real run only. Snakemake
tells the parsing Snakefile whether it is a dry run but not which other action
follows, so the rest is read with Snakemake's own argument parser.

It also says whether this is the Snakemake started for the report after a
failed job (``partial``; ``failed_run_report.py``), and whether the user
stopped the run (``watch_interrupts``, ``interrupted``): the workflow asks
both while it is read, and again when a run fails.
"""

from __future__ import annotations

import os
import signal
import sys

# Snakemake's options that make the invocation do something other than run jobs.
NOT_RUNNING = (
    "dryrun",
    "touch",
    "lint",
    "list_rules",
    "list_target_rules",
    "print_compilation",
    "containerize",
    "generate_unit_tests",
    "dag",
    "rulegraph",
    "filegraph",
    "d3dag",
    "unlock",
    "cleanup_metadata",
    "conda_cleanup_envs",
    "conda_create_envs_only",
    "list_conda_envs",
    "cleanup_shadow",
    "container_cleanup_images",
    "list_changes",
    "list_input_changes",
    "list_params_changes",
    "list_untracked",
    "summary",
    "detailed_summary",
    "archive",
    "delete_all_output",
    "delete_temp_output",
)


def runs_jobs(workflow, argv: list[str] | None = None) -> bool:
    """Whether this invocation is the main process of a run that executes jobs."""
    from snakemake.cli import get_argument_parser
    from snakemake_interface_executor_plugins.settings import ExecMode

    if workflow.output_settings.dryrun or workflow.exec_mode != ExecMode.DEFAULT:
        return False
    args, _ = get_argument_parser().parse_known_args(
        sys.argv[1:] if argv is None else argv
    )
    if args.report and not args.report_after_run:
        return False
    return not any(getattr(args, name, None) for name in NOT_RUNNING)


# Set in the Snakemake started for the report after a failure (and so in its jobs).
PARTIAL = "SWEEP_PARTIAL_REPORT"


def partial() -> bool:
    """Whether this is the Snakemake started for the report after a failure."""
    return bool(os.environ.get(PARTIAL))


_INTERRUPTED = []


def watch_interrupts() -> None:
    """Note a Ctrl-C (SIGINT) before Snakemake sees it as KeyboardInterrupt, as
    always: a run the user stopped is not followed by another. (Where SIGINT is
    ignored, as in a shell's background job, it stays ignored.)"""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def note(signum, frame):
        _INTERRUPTED.append(signum)
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, note)


def interrupted(workflow) -> bool:
    """Whether the run was stopped by the user: Ctrl-C (``watch_interrupts``) or
    SIGTERM (which Snakemake's scheduler records)."""
    scheduler = getattr(workflow, "scheduler", None)
    return bool(_INTERRUPTED) or bool(getattr(scheduler, "_user_kill", None))
