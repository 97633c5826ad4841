"""The fast suite (`pytest -m "not workflow"`) starts no Snakemake: a test that does
must be marked `workflow` (tests/conftest.py)."""

import subprocess
import sys

import pytest

from workflow_helpers import starts_snakemake


def test_an_unmarked_test_cannot_start_snakemake():
    with pytest.raises(RuntimeError, match="not marked `workflow`"):
        subprocess.run([sys.executable, "-m", "snakemake", "--version"], check=True)


@pytest.mark.workflow
def test_a_marked_test_may():
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--version"], capture_output=True
    )
    assert out.returncode == 0


def test_what_counts_as_starting_snakemake():
    assert starts_snakemake([sys.executable, "-m", "snakemake", "--cores", "1"])
    assert starts_snakemake([".venv/bin/snakemake", "-n"])
    assert starts_snakemake("snakemake --cores 1")
    assert not starts_snakemake([sys.executable, "-m", "sweeplib.measure.worker"])
    assert not starts_snakemake(["ls", "/tmp/snakemake-results/"])
