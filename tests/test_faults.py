"""Interrupts: a job killed at any moment of its life leaves nothing that passes for a
result, and a plain rerun finishes the sweep, redoing only what was unfinished."""

import copy
import os
import signal
import subprocess
import sys
import time

import pytest
from crafted import copy_of

from sweeplib.common.logs import PAUSE_AFTER_OUTPUTS
from workflow_helpers import TINY, planned_jobs, rules_run, snakemake, write_config

pytestmark = pytest.mark.workflow

# Scale 10 with long windows is slow enough to be caught mid-process (several seconds
# per process); scales 1 and 2 are those of the finished sweep.
SLOW = copy.deepcopy(TINY)
SLOW["scales"] = [
    1,
    2,
    {"scale": 10, "epochs": 20, "lr": 0.05, "rounds": 8, "steps_per_window": 20},
]


def snapshot(project):
    """Every measurement's file with its date: the runs and the hardware probes. (The
    machine's plan.json and machine.json are not measurements: a changed config
    rewrites them, before or after the timing jobs, in whatever order Snakemake picks
    among jobs that are ready.)"""
    machines = project / "results/machines"
    return {
        p: p.stat().st_mtime_ns
        for kind in ("runs", "hardware")
        for p in machines.glob(f"*/{kind}/**/*")
        if p.is_file()
    }


def start(project, env=None):
    """Snakemake in a session of its own, as from a terminal: SIGINT has its default
    meaning there even if this test runs where it is ignored (a shell's background
    job), which Python and every process it starts would inherit."""
    return subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "1"],
        cwd=project,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(condition, what, proc, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"snakemake ended before {what}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def kill(proc, sig):
    os.killpg(proc.pid, sig)  # the whole process group, as Ctrl-C in a terminal does
    proc.wait(timeout=60)


def finishes_cleanly(project):
    """A plain rerun completes, and leaves no temporary file or work folder behind."""
    snakemake(project, "--cores", "1")
    assert (project / "results/report.md").exists()
    assert not list(project.glob("results/**/.*.part")) and not list(
        project.glob("results/machines/*/runs/*/*/.work")
    )
    assert planned_jobs(project) == []


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"]
)
def test_a_timing_job_killed_mid_process_is_redone_and_nothing_else(
    finished_project, tmp_path, sig
):
    project = copy_of(finished_project, tmp_path)
    write_config(project, SLOW)
    before = snapshot(project)
    assert sum(p.name == "timings.csv" for p in before) == 4  # 2 scales x 2 devices
    report = (project / "results/report.md").stat().st_mtime_ns
    proc = start(project)

    def second_process_running():
        logs = list(project.glob("results/machines/*/runs/scale10/*/time.log"))
        return logs and "process 1 (" in logs[0].read_text()

    wait_for(second_process_running, "scale 10's second process", proc)
    time.sleep(0.5)
    kill(proc, sig)

    # A stopped run just stops: no report is written after it (failed_run_report.py).
    assert (project / "results/report.md").stat().st_mtime_ns == report
    # The interrupted scale has no timing file, so nothing takes it for finished.
    assert not list(project.glob("results/machines/*/runs/scale10/*/*/timings.csv"))
    # Every finished run is untouched.
    assert {p: t for p, t in snapshot(project).items() if p in before} == before
    # The next run plans exactly the unfinished work: scale 10's timing and check, then
    # the aggregation.
    jobs = planned_jobs(project)
    assert [w for r, w in jobs if r in ("time_scale", "check_inference")] and all(
        "scale=10" in w
        for r, w in jobs
        if r in ("time_scale", "check_inference", "make_dataset")
    )
    finishes_cleanly(project)


# Each rule, killed right after it wrote its last output, before Snakemake recorded it
# as finished; the edit to the config makes each of them run again.
AFTER_OUTPUTS = {
    "time_scale": lambda c: c.update(scales=[1, {"scale": 2, "lr": 0.25}]),
    "check_inference": lambda c: c.update(scales=[1, {"scale": 2, "lr": 0.25}]),
    "measure_hardware": lambda c: c["hardware"].update(repeats=4),
    "make_dataset": lambda c: c.update(scales=[1, 2, 3]),
    "aggregate_results": lambda c: c["analysis"].update(bootstrap=300),
    "write_report": lambda c: c["analysis"].update(bootstrap=300),
}


@pytest.mark.parametrize("rule", AFTER_OUTPUTS)
def test_a_job_killed_after_its_last_output_is_finished_by_a_plain_rerun(
    finished_project, tmp_path, rule
):
    project = copy_of(finished_project, tmp_path)
    config = copy.deepcopy(TINY)
    AFTER_OUTPUTS[rule](config)
    write_config(project, config)
    # The job pauses beside its own log (the hook writes nowhere else).
    proc = start(project, env={PAUSE_AFTER_OUTPUTS: rule})

    def paused():
        return any(project.glob(f"results/**/{rule}.paused"))

    wait_for(paused, f"{rule} to write its outputs", proc)
    kill(proc, signal.SIGKILL)
    assert rule in rules_run(planned_jobs(project))  # marked incomplete: planned again
    finishes_cleanly(project)
