"""What this invocation of Snakemake will do, read while the Snakefile is parsed.

Parsing happens for a real run and equally for a dry run, ``--lint``,
``--summary``, ``--list-untracked``, ``--dag``, ``--report`` and the like, and
again inside every remote job. Anything the workflow does to the disk while
parsing (removing a stale lock) must happen on a real run only. Snakemake
tells the parsing Snakefile whether it is a dry run but not which other action
follows, so the rest is read with Snakemake's own argument parser.
"""

from __future__ import annotations

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
