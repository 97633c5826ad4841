"""The unchanged workflow on a real Slurm cluster, through Snakemake's Slurm executor
and profiles/slurm. Needs a cluster (tests/slurm/local-cluster.sh start makes a
one-node one here) and the executor (pip install -r requirements-slurm.txt);
skipped, saying which is missing, otherwise."""

import importlib.util
import re
import shutil
import subprocess

import pytest

from sweeplib.common.tables import read_csv
from workflow_helpers import REPORT_HEADINGS, TINY, make_project, snakemake


def missing() -> str | None:
    if shutil.which("sbatch") is None:
        return (
            "no Slurm here: sbatch is not on PATH (tests/slurm/local-cluster.sh start)"
        )
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "no Slurm executor: pip install -r requirements-slurm.txt"
    state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    if state.returncode or not state.stdout.strip():
        return (
            f"no Slurm controller answers (sinfo: {state.stderr.strip() or 'nothing'})"
        )
    return None


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(missing() is not None, reason=str(missing())),
]


def test_the_small_sweep_runs_on_slurm_with_timed_jobs_alone_on_the_node(tmp_path):
    project = make_project(tmp_path, TINY)
    out = snakemake(project, "--workflow-profile", "profiles/slurm")
    log = out.stdout + out.stderr
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    assert len(submitted) >= 14, log[-3000:]
    report = (project / "results/report.md").read_text()
    for heading in REPORT_HEADINGS:
        assert heading in report
    assert "timed regions overlapped" not in report
    timings = read_csv(project / "results/aggregate/timings.csv")
    # Each device ran with the threads planned for it, even though Slurm, not
    # Snakemake, placed the job.
    assert (timings["threads"] == timings["threads_requested"]).all()
    assert set(timings.loc[timings["device"] == "cpu1", "threads"]) == {1}
