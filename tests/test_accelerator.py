"""On an accelerator (CUDA or MPS): the device synchronisation really waits, a timed
step includes the device's work, interleaving with the CPU trains each model as it
would train alone, and the small sweep runs with ``devices: auto`` and checks itself.
Skipped on a machine without one; there, tests/test_timing.py checks the same loop
with the CPU's two devices (one thread and all cores)."""

import time

import pytest
import torch

from expected import (
    machine_plan,
    planned_runs,
    switch_windows_run_past_their_least_time,
    switch_windows_short_of_steps,
)
from interleaving import trained, trainer
from sweeplib.common.devices import available_accelerators, synchronizer, torch_device
from sweeplib.common.tables import read_csv
from sweeplib.measure.data import make_dataset
from sweeplib.measure.timing import Trainer
from sweeplib.plan.schedule import Schedule
from workflow_helpers import SMALL, make_project, snakemake

ACCELERATORS = available_accelerators()
pytestmark = pytest.mark.skipif(
    not ACCELERATORS, reason="no CUDA or MPS device on this machine"
)

SCHEDULE = Schedule(
    protocol_steps=30, warmup_steps=2, rounds=4, steps_per_window=3, switch_steps=1
)
# Queued device work this long is far longer than launching it.
BUSY_S = 0.2


def busy_work(accelerator: str):
    """A function that queues about ``BUSY_S`` of work on the device and returns at
    once: matrix products, their count calibrated with synchronised runs."""
    device, sync = torch_device(accelerator), synchronizer(accelerator)
    a = torch.randn(2048, 2048, device=device)

    def work(n):
        for _ in range(n):
            a @ a

    n = 1
    while True:
        sync()
        t0 = time.perf_counter()
        work(n)
        sync()
        if time.perf_counter() - t0 >= BUSY_S:
            return lambda: work(n)
        n *= 2


def event(accelerator: str):
    return (torch.cuda if accelerator == "cuda" else torch.mps).Event()


@pytest.mark.parametrize("accelerator", ACCELERATORS or ["none"])
def test_the_synchronizer_waits_for_queued_work(accelerator):
    # A synchronizer that returns at once (a no-op) leaves the work queued: the event
    # recorded after it has not completed, and the wait is as short as the launch.
    work, sync = busy_work(accelerator), synchronizer(accelerator)
    sync()
    t0 = time.perf_counter()
    work()
    launched = time.perf_counter() - t0
    done = event(accelerator)
    done.record()
    sync()
    waited = time.perf_counter() - t0
    assert done.query(), "the synchronizer returned before the queued work finished"
    assert waited >= 0.75 * BUSY_S and launched < 0.5 * waited, (launched, waited)


@pytest.mark.parametrize("accelerator", ACCELERATORS or ["none"])
def test_a_timed_step_includes_the_devices_work(accelerator):
    # The model queues BUSY_S of work in its forward pass: a step timed without
    # waiting for the device would time only the launches.
    work = busy_work(accelerator)
    data = make_dataset(20, 40, 10, seed=0)
    ref = trainer({"name": accelerator, "threads": 1}, data)

    class Slow(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            work()
            return self.inner(x)

    slow = Trainer(
        accelerator,
        Slow(ref.model),
        ref.optimizer,
        ref.loader,
        torch_device(accelerator),
        synchronizer(accelerator),
        threads=1,
    )
    slow.activate()
    slow.step()  # warm-up
    assert slow.step()["step_s"] >= 0.75 * BUSY_S


def weights(trainers) -> dict:
    return {
        name: {k: v.cpu() for k, v in t.model.state_dict().items()}
        for name, t in trainers.items()
    }


@pytest.mark.parametrize("accelerator", ACCELERATORS or ["none"])
def test_interleaving_with_an_accelerator(accelerator):
    cpu, acc = {"name": "cpu", "threads": 1}, {"name": accelerator, "threads": 1}
    trainers, records = trained([cpu, acc], SCHEDULE)
    together = weights(trainers)
    alone = weights(trained([acc], SCHEDULE)[0])
    for key, value in together[accelerator].items():
        torch.testing.assert_close(value, alone[accelerator][key], rtol=1e-6, atol=1e-7)
        # same data, same steps
        torch.testing.assert_close(value, together["cpu"][key], rtol=1e-4, atol=1e-5)
    assert {r["device"] for r in records if r["kind"] == "timed"} == {
        "cpu",
        accelerator,
    }
    assert all(r["step_s"] > 0 for r in records)


@pytest.mark.workflow
def test_the_small_sweep_compares_the_cpu_with_the_accelerator(tmp_path):
    (accelerator,) = ACCELERATORS[:1]
    project = make_project(tmp_path, SMALL)  # devices: auto
    snakemake(project, "--cores", "1")
    agg = project / "results" / "aggregate"
    report = (project / "results" / "report.md").read_text()
    name = accelerator.upper()
    # The accelerator's rows in the report: its step column and a speedup per scale.
    assert f"{name} step (IQR)" in report and f"speedup {name}" in report
    assert "No accelerator" not in report and "**implausible**" not in report
    # The report checked itself: no cell beats its hardware bound, every process ran
    # with the thread variables planned.
    cells = read_csv(project / "results" / "analysis" / "cells.csv")
    assert set(cells["device"]) == {"cpu", accelerator}
    assert not cells["implausible"].any() and cells["bound_s"].gt(0).all()
    assert cells["thread_variables_as_planned"].all()
    # The inference check reloaded each checkpoint on the device: one row per run the
    # plan made, refinement's added sizes and batches included.
    plan = machine_plan(project)
    checks = read_csv(agg / "inference.csv")
    mine = checks[checks["device"] == accelerator]
    runs = planned_runs(plan, accelerator)
    assert len(mine) == len(runs) and set(mine["run_key"]) == runs
    assert mine["predictions_equal"].all()
    # The hardware probes: every sample lasted its least time, on every device.
    hardware = read_csv(agg / "hardware.csv").set_index("device")
    least = 0.05 * 0.9
    for probe in ("copy", "matmul"):
        lasted = hardware[f"{probe}_median_s"] * hardware[f"{probe}_calls_per_sample"]
        assert (lasted >= least).all(), lasted
    assert hardware.loc[accelerator, "bandwidth_Bps"] > 0
    # The accelerator's switch steps: every window ran its switch steps, and went on
    # only while its least time (wall clock from the window's start) had not passed.
    timing = plan["config"]["timing"]
    steps = read_csv(agg / "steps.csv")
    mine = steps[steps["device"] == accelerator]
    assert not switch_windows_short_of_steps(mine, timing["switch_steps"]).any()
    assert not switch_windows_run_past_their_least_time(
        mine, timing["switch_steps"], timing["accelerator_switch_s"]
    ).any()
