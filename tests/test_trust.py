"""Through the real command line: crafted machine folders are left out with notes while
this machine's report is written; a failed scale is reported as failed while the
rest is written and the exit status says a job failed; a touched dataset
re-measures nothing; and a lock of a live run that the process scan cannot see is
kept, with Snakemake's own advice."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from crafted import MARKDOWN, build_all, copy_of

from sweeplib.common import locks
from sweeplib.common.formatting import md_text
from sweeplib.common.tables import read_csv
from sweeplib.plan.brought_in import printable
from workflow_helpers import (
    REPORT_HEADINGS,
    TINY,
    planned_jobs,
    rules_run,
    snakemake,
    this_machine,
    write_config,
)

pytestmark = pytest.mark.workflow

TIMING_RULES = ("make_dataset", "time_scale", "check_inference", "measure_hardware")


def measurements(project):
    """Every file of this machine's runs and probes, with its date and bytes."""
    folder = project / "results/machines" / this_machine(project)
    return {
        p: (p.stat().st_mtime_ns, p.read_bytes())
        for kind in ("runs", "hardware")
        for p in folder.glob(f"{kind}/**/*")
        if p.is_file()
    }


def test_crafted_folders_are_left_out_with_notes_and_the_report_is_written(
    finished_project, tmp_path
):
    project = copy_of(finished_project, tmp_path)
    here = this_machine(project)
    before = measurements(project)
    made = build_all(project)
    snakemake(project, "--unlock")  # every command reads the folders: none fails
    out = snakemake(project, "--cores", "1")
    # Bringing folders in retrains nothing and leaves this machine's results alone.
    assert not set(rules_run(planned_jobs(project))) & set(TIMING_RULES)
    assert "rule time_scale" not in out.stdout + out.stderr
    assert measurements(project) == before
    report = (project / "results/report.md").read_text()
    for heading in REPORT_HEADINGS:
        assert heading in report
    left_out = report[report.index("## Folders left out") : report.index("## This")]
    for name, words in made.refused.items():
        shown = md_text(printable(name))
        line = next((s for s in left_out.splitlines() if f"machines/{shown}:" in s), "")
        assert line, f"no note about {name!a}"
        for w in words:
            assert md_text(w) in line, f"{name!a}: {w!r} not in {line!r}"
    timings = read_csv(project / "results/aggregate/timings.csv")
    assert set(timings["machine"]) == {here} | made.read
    # Every accepted folder has its section, the one with odd names escaped.
    assert report.count("\n## Machine: ") == len(made.accepted)
    assert "secret" not in timings and "hunter2" not in timings.to_csv()
    # The odd names are escaped: the report's end is still there to read.
    assert "<!--" not in report and "## Inference checks" in report
    assert report.count("## Machine: Evil \\| CPU &lt;!--") == 1
    assert MARKDOWN["cpu_model"] not in report


def dataset_key(project, scale):
    (wildcards,) = [
        w
        for r, w in planned_jobs(project)
        if r == "make_dataset" and f"scale={scale}" in w
    ]
    return re.search(r"key=(\w+)", wildcards).group(1)


def test_a_failed_scale_is_reported_as_failed_and_the_rest_is_written(
    finished_project, tmp_path
):
    project = copy_of(finished_project, tmp_path)
    before = measurements(project)
    write_config(project, {**TINY, "scales": [1, 2, 3]})
    # Scale 3's dataset is damaged (a full disk, a crash, a bad copy): its timing job
    # fails at once.
    key = dataset_key(project, 3)
    dataset = project / f"results/datasets/scale3/{key}.pt"
    dataset.parent.mkdir(parents=True)
    dataset.write_bytes(b"not a dataset")
    out = snakemake(project, "--cores", "1", check=False)
    assert out.returncode != 0  # Snakemake still says a job failed
    assert "Error in rule time_scale" in out.stdout + out.stderr
    # The run ends by saying which scale failed and where the report is.
    said = out.stdout + out.stderr
    assert "- scale 3: its timing job failed: " in said
    assert "The report, from the runs that finished: results/report.md" in said
    report = (project / "results/report.md").read_text()
    failed = report[report.index("## Failed runs") : report.index("## This machine")]
    (row,) = [line for line in failed.splitlines() if line.startswith("| 3 |")]
    assert "| timing |" in row and "UnpicklingError" in row
    assert "runs/scale3/" in row and "time.log" in row
    # The rest is there: scales 1 and 2, with their speedups.
    assert "| 1 | 90,902 |" in report and "| 2 | 361,802 |" in report
    assert {p: v for p, v in measurements(project).items() if p in before} == before
    # A plain rerun tries the failed scale again, and nothing else is measured.
    jobs = planned_jobs(project)
    assert [w for r, w in jobs if r == "time_scale"] and all(
        "scale=3" in w for r, w in jobs if r in ("time_scale", "check_inference")
    )


def test_a_touched_dataset_never_re_measures(finished_project, tmp_path):
    project = copy_of(finished_project, tmp_path)
    later = time.time() + 3600
    datasets = list(project.glob("results/datasets/*/*.pt"))
    assert len(datasets) == 2
    for path in datasets:
        os.utime(path, (later, later))
    jobs = rules_run(planned_jobs(project))
    assert not set(jobs) & set(TIMING_RULES), jobs
    # Nor in a checkout without Snakemake's metadata (results copied into a fresh
    # clone), where no recorded checksum can say that the newer file is the same
    # (Snakemake keeps one only of files under 1 MB: the tiny sweep's datasets).
    shutil.rmtree(project / ".snakemake")
    jobs = rules_run(planned_jobs(project))
    assert not set(jobs) & set(TIMING_RULES), jobs


def test_a_lock_of_a_live_run_the_scan_cannot_see_is_kept(finished_project, tmp_path):
    project = copy_of(finished_project, tmp_path)
    # A live run that is no Snakemake process in this folder to the scan (Snakemake's
    # API under a wrapper, another user's run): it holds the lock and recorded it.
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (project / locks.LOCKS).mkdir(parents=True)
        lock = project / locks.LOCKS / "0.output.lock"
        lock.write_text("results/report.md\n")
        (project / locks.OWNERS).mkdir(parents=True, exist_ok=True)
        (project / locks.OWNERS / "holder.json").write_text(
            json.dumps(locks.identity(holder.pid))
        )
        out = snakemake(project, "--cores", "1", check=False)
        text = out.stdout + out.stderr
        assert out.returncode != 0 and lock.exists()
        assert f"pid {holder.pid} on this host" in text and "--unlock" in text
    finally:
        holder.kill()
        holder.wait()
    # Once it is gone, the lock is provably stale: removed, and the run goes on.
    out = snakemake(project, "--cores", "1")
    assert "Removed a stale lock" in out.stderr and not lock.exists()
