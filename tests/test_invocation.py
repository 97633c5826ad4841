"""Only a real run touches the disk while the workflow is read: which invocations are
real runs."""

from types import SimpleNamespace

import pytest
from snakemake_interface_executor_plugins.settings import ExecMode

from sweeplib.common.invocation import runs_jobs


def workflow(dryrun=False, mode=ExecMode.DEFAULT):
    return SimpleNamespace(
        output_settings=SimpleNamespace(dryrun=dryrun), exec_mode=mode
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--cores", "1"],
        [],
        ["-c2", "--keep-going"],
        ["--report", "r.html", "--report-after-run", "--cores", "1"],
    ],
)
def test_a_run_that_executes_jobs(argv):
    assert runs_jobs(workflow(), argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["-n"],
        ["--dry-run", "--cores", "1"],
        ["--lint"],
        ["--list-untracked"],
        ["--summary"],
        ["--detailed-summary"],
        ["--dag"],
        ["--rulegraph"],
        ["--unlock"],
        ["--touch"],
        ["--report", "r.html"],
        ["--list-changes", "params"],
        ["--delete-all-output"],
    ],
)
def test_invocations_that_do_not(argv):
    assert not runs_jobs(workflow(), argv)


def test_a_dry_run_from_a_profile_and_a_remote_job_do_not():
    assert not runs_jobs(workflow(dryrun=True), ["--cores", "1"])
    assert not runs_jobs(workflow(mode=ExecMode.REMOTE), ["--cores", "1"])
