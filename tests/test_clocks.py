"""The device clock beside the host's: on a device whose work is queued, a window
timed with a synchronisation that waits agrees with the device's events, and one
whose synchronisation returns at once is caught, short of the device's time. The
device is a fake that runs here: its work is queued, not done, when a step
returns, a pageable copy waits for the queue (as CUDA's does), and its events
report the true time the device took."""

import math
import random
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from interleaving import trainer
from sweeplib.analyse.analysis import clock_facts
from sweeplib.analyse.clocks import (
    CLOCK_MARGIN_S,
    clock_notes,
    clock_problem,
    clock_problems,
    clock_warnings,
)
from sweeplib.measure import timing as timing_module
from sweeplib.measure.data import make_dataset
from sweeplib.measure.timing import Trainer, run_rounds
from sweeplib.plan.schedule import Schedule

WORK_S = 1e-3  # the device's work per step
LAUNCH_S = 2e-5  # the host's time to queue it

SCHEDULE = Schedule(
    protocol_steps=30, warmup_steps=2, rounds=3, steps_per_window=3, switch_steps=1
)


class QueuedDevice:
    """A device with a queue, on a clock that only it advances: ``now`` is the
    host's time, ``free_at`` when the device will have done what is queued."""

    def __init__(self):
        self.now = self.free_at = 0.0

    def launch(self, work: float) -> None:
        self.now += LAUNCH_S
        self.free_at = max(self.free_at, self.now) + work

    def wait(self) -> None:
        self.now = max(self.now, self.free_at)

    def event(self) -> "Event":
        return Event(self)


class Event:
    """An event on the device's queue: reached once the work queued before it is
    done."""

    def __init__(self, device: QueuedDevice):
        self.device, self.at = device, math.nan

    def record(self) -> None:
        self.at = self.device.free_at = max(self.device.now, self.device.free_at)

    def synchronize(self) -> None:
        self.device.now = max(self.device.now, self.at)

    def elapsed_time(self, end: "Event") -> float:
        return (end.at - self.at) * 1000  # milliseconds, as torch's events report


class OnTheDevice(torch.nn.Module):
    """The model's forward pass, also queueing ``WORK_S`` on the fake device after
    waiting for its queue, as a pageable host-to-device copy waits."""

    def __init__(self, inner, device: QueuedDevice):
        super().__init__()
        self.inner, self.device = inner, device

    def forward(self, x):
        self.device.wait()
        self.device.launch(WORK_S)
        return self.inner(x)


def windows(monkeypatch, sync_waits: bool) -> pd.DataFrame:
    """The timed windows of the workflow's own loop on the fake device, with the
    real synchroniser's stand-in, or with one that returns at once."""
    device = QueuedDevice()
    monkeypatch.setattr(
        timing_module, "time", SimpleNamespace(perf_counter=lambda: device.now)
    )
    ref = trainer({"name": "cpu1", "threads": 1}, make_dataset(20, 60, 10, seed=0))
    queued = Trainer(
        "cuda",
        OnTheDevice(ref.model, device),
        ref.optimizer,
        ref.loader,
        "cpu",
        device.wait if sync_waits else (lambda: None),
        threads=1,
        clock=device.event,
    )
    records = run_rounds({"cuda": queued}, SCHEDULE, random.Random(0))
    timed = pd.DataFrame([r for r in records if r["kind"] == "timed"])
    return timed.groupby("round")[["host_window_s", "device_window_s"]].first()


def test_a_window_whose_steps_wait_agrees_with_the_device_clock(monkeypatch):
    found = windows(monkeypatch, sync_waits=True)
    assert len(found) == SCHEDULE.rounds
    assert (found["device_window_s"] >= SCHEDULE.window_steps * WORK_S).all()
    assert clock_problems(found).isna().all()


def test_a_synchroniser_that_does_not_wait_is_caught_by_the_device_clock(monkeypatch):
    # The next step's copy still waits for the queue, so each step's time shifts by
    # one step rather than shrinking; only the last step's work is left out of the
    # host's window, and the device clock sees it.
    found = windows(monkeypatch, sync_waits=False)
    assert (found["device_window_s"] >= SCHEDULE.window_steps * WORK_S).all()
    assert (found["device_window_s"] - found["host_window_s"] > 0.9 * WORK_S).all()
    assert set(clock_problems(found)) == {"host shorter"}


def test_the_cpu_has_no_device_clock():
    data = make_dataset(20, 60, 10, seed=0)
    records = run_rounds(
        {"cpu1": trainer({"name": "cpu1", "threads": 1}, data)},
        SCHEDULE,
        random.Random(0),
    )
    timed = [r for r in records if r["kind"] == "timed"]
    assert all(math.isnan(r["device_window_s"]) for r in timed)
    assert all(r["host_window_s"] > 0 for r in timed)


@pytest.mark.parametrize(
    "host, device, problem",
    [
        (0.0100, 0.0104, None),  # 4%: within the margin
        (0.0100, 0.0110, "host shorter"),  # a step's work outlasted the window
        (0.0110, 0.0100, "host longer"),
        (0.0010, 0.0010 + 0.9 * CLOCK_MARGIN_S, None),  # a short window: absolute
        (0.0100, math.nan, None),  # no device clock: nothing to compare
    ],
)
def test_two_clocks_disagree_beyond_the_stated_margin(host, device, problem):
    assert clock_problem(host, device) == problem


def cells_of(host: list[float], device: list[float], name: str) -> pd.DataFrame:
    """One cell's facts (``analysis.clock_facts``) from its windows' two clocks."""
    windows = pd.DataFrame(
        {
            "scale": 1,
            "device": name,
            "host_window_s": host,
            "device_window_s": device,
        }
    )
    return pd.DataFrame(clock_facts(windows)).reset_index()


def test_the_report_warns_of_a_cell_whose_host_clock_fell_short():
    cells = cells_of([0.010] * 3, [0.010, 0.0104, 0.012], "cuda")
    (warning,) = clock_warnings(cells, {"cuda": "CUDA"})
    assert "scale 1 on CUDA, 1 of 3 windows" in warning
    (note,) = clock_notes(cells, {"cuda": "CUDA"})
    assert "10.00 ms and 10.40 ms (1 of 3 windows disagree)" in note


def test_the_report_gives_no_device_clock_for_the_cpu():
    cells = cells_of([0.010] * 3, [math.nan] * 3, "cpu")
    assert clock_warnings(cells, {}) == [] and clock_notes(cells, {}) == []
