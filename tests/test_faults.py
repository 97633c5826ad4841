"""Interrupts: a killed training job leaves nothing that passes for a result, and the next run
redoes exactly the unfinished jobs."""

import copy
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from workflow_helpers import TINY, planned_jobs, rules_run, snakemake, write_config

pytestmark = pytest.mark.workflow

# Scale 10 over a long protocol (400 steps of 10-30 ms) is slow enough to be caught mid-run;
# scales 1 and 2 are those of the finished sweep.
SLOW = copy.deepcopy(TINY)
SLOW["scales"] = [1, 2, {"scale": 10, "epochs": 40, "lr": 0.05, "steps_per_repeat": "all"}]


def snapshot(project):
    return {p: p.stat().st_mtime_ns for p in (project / "results/runs").rglob("*") if p.is_file()}


def start_and_kill(project, sig):
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1"], cwd=project, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        logs = list(project.glob("results/runs/scale10/*/*/train.log"))
        if logs and "parameters" in logs[0].read_text():
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the scale-10 training job never started")
    time.sleep(0.5)  # well inside its 5-10 s of training
    os.killpg(proc.pid, sig)  # the whole process group, as Ctrl-C in a terminal does
    proc.wait(timeout=60)
    return logs[0].parent


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_training_is_redone_and_nothing_else(finished_project, tmp_path, sig):
    project = tmp_path / "project"
    shutil.copytree(finished_project, project, symlinks=True)
    write_config(project, SLOW)
    before = snapshot(project)
    run = start_and_kill(project, sig)

    # The interrupted run has no timing file, so nothing takes it for finished.
    assert not (run / "timings.csv").exists()
    # Every finished run is untouched.
    after = snapshot(project)
    assert {p: t for p, t in after.items() if p in before} == before

    # The next run plans exactly the unfinished work: scale 10's training and checks, then the aggregation.
    jobs = planned_jobs(project)
    redo = [(r, w) for r, w in jobs if r in ("train_model", "check_inference")]
    assert redo and all("scale=10" in w for _, w in redo)
    assert rules_run(jobs)["train_model"] >= 1
    assert "make_dataset" not in rules_run(jobs) or all("scale=10" in w for r, w in jobs if r == "make_dataset")

    # And carries it out; no temporary file is left behind.
    snakemake(project, "--cores", "1")
    assert (run / "timings.csv").exists()
    assert not list(project.glob("results/**/*.part"))
