import pytest

from workflow_helpers import TINY, make_project, snakemake


@pytest.fixture(scope="session")
def finished_project(tmp_path_factory):
    """The tiny sweep run once, end to end, on two cores (timed jobs must still run one
    at a time)."""
    root = make_project(tmp_path_factory.mktemp("sweep"), TINY)
    snakemake(root, "--cores", "2")
    return root
