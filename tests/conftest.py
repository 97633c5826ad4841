import subprocess

import pytest

from workflow_helpers import TINY, make_project, snakemake, starts_snakemake

# The test being run when it is not marked `workflow` (then it must not start
# Snakemake: `pytest -m "not workflow"` is the suite that starts in seconds).
_unmarked: str | None = None
_popen_init = subprocess.Popen.__init__


def _guarded_popen_init(self, args, *rest, **kwargs):
    if _unmarked and starts_snakemake(args):
        raise RuntimeError(
            f"{_unmarked} starts Snakemake but is not marked `workflow`: mark it "
            "@pytest.mark.workflow, so that `pytest -m 'not workflow'` stays fast"
        )
    _popen_init(self, args, *rest, **kwargs)


subprocess.Popen.__init__ = _guarded_popen_init


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Guard the test's set-up, call and tear-down when it is not marked."""
    global _unmarked
    _unmarked = None if item.get_closest_marker("workflow") else item.nodeid
    try:
        return (yield)
    finally:
        _unmarked = None


def pytest_collection_modifyitems(items):
    """A session fixture that runs the workflow is made once, by whichever test asks
    first: an unmarked test that uses it would pass in the whole suite and start
    Snakemake in the fast one. Refuse it at collection."""
    unmarked = [
        item.nodeid
        for item in items
        if {"finished_project", "finished_run"} & set(getattr(item, "fixturenames", ()))
        and not item.get_closest_marker("workflow")
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests that use the finished workflow must be marked `workflow`: "
            + ", ".join(unmarked)
        )


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """The tiny sweep run once, end to end, on two cores (timed jobs must still run one
    at a time): its folder, and what Snakemake printed."""
    root = make_project(tmp_path_factory.mktemp("sweep"), TINY)
    out = snakemake(root, "--cores", "2")
    return root, out.stdout + out.stderr


@pytest.fixture(scope="session")
def finished_project(finished_run):
    return finished_run[0]
