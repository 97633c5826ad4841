"""The suite's expectations of a finished sweep follow the machine's own facts and
plan (``tests/expected.py``), checked here with another platform's facts: a Mac's
BLAS, a fast GPU's switch steps, a plan that refinement grew."""

import copy
import random
from types import SimpleNamespace

import pandas as pd

import sweeplib.timing as timing_module
from expected import (
    planned_pairing,
    planned_runs,
    switch_windows_run_past_their_least_time,
    switch_windows_short_of_steps,
)
from sweeplib.manifest import machine_plan
from sweeplib.plan import plan_sweep, refined
from sweeplib.schedule import Schedule
from sweeplib.timing import run_rounds
from synthetic import facts
from workflow_helpers import SCHEMA, SCRIPTS, SMALL, TINY

ROOMY = {"host": 2**40, "cuda": 2**40}


def plan(config, machine):
    return plan_sweep(copy.deepcopy(config), SCRIPTS, SCHEMA, machine, ROOMY)


def test_on_a_mac_the_tiny_sweep_is_expected_to_time_its_devices_apart():
    # Apple's Accelerate keeps the thread count it loaded with: cpu1 (1 thread) and
    # cpu (2) are planned in processes of their own, and the suite expects that.
    mac = facts(blas="accelerate", threading="at load")
    assert planned_pairing(machine_plan(plan(TINY, mac))) == "separate"
    assert planned_pairing(machine_plan(plan(TINY, facts()))) == "interleaved"


def test_the_checks_expected_are_the_runs_refinement_added_too():
    # The small sweep keeps refinement on: a pass that adds a size adds its runs,
    # and each of them has its inference check on every device.
    first = plan(SMALL | {"devices": ["cpu", "cuda"]}, facts(["cuda"]))
    added = {"scale": 1.5, "batch": 0}
    decision = {"stop": True, "history": [{"added": [added]}]}
    grown = machine_plan(refined(first, decision))
    assert len(planned_runs(grown, "cuda")) == len(SMALL["scales"]) + 1
    assert planned_runs(grown, "cuda") == {r["key"] for r in grown["runs"]}


class FastStep:
    """A trainer on an accelerator whose steps take ``step_s`` each by a clock that
    also advances by ``between_s`` between steps: the bookkeeping the timed region
    leaves out, as on a fast GPU."""

    on_accelerator = True
    clock = None  # no device clock

    def __init__(self, now, step_s=0.0003, between_s=0.0002):
        self.name, self.now, self.steps = "cuda", now, 0
        self.step_s, self.between_s = step_s, between_s

    def activate(self):
        pass

    def step(self, trains=True):
        self.now["now"] += self.step_s + self.between_s
        self.steps += 1
        return {"step": self.steps - 1, "step_s": self.step_s, "trains": trains}

    def can_rehearse(self):
        return self.steps > 0

    def rehearse(self):
        return self.step(trains=False)

    def loss_values(self):
        return [0.0] * self.steps


def fast_gpu_steps(monkeypatch, least_s=0.025) -> pd.DataFrame:
    schedule = Schedule(
        protocol_steps=100,
        warmup_steps=1,
        rounds=3,
        steps_per_window=2,
        switch_steps=1,
        accelerator_warmup_s=0.05,
        accelerator_switch_s=least_s,
    )
    now = {"now": 0.0}
    monkeypatch.setattr(
        timing_module, "time", SimpleNamespace(perf_counter=lambda: now["now"])
    )
    records = run_rounds({"cuda": FastStep(now)}, schedule, random.Random(0))
    return pd.DataFrame(records).assign(run_key="k", process=0)


def test_a_fast_gpus_switch_steps_meet_what_the_loop_guarantees(monkeypatch):
    # The least time is wall clock from the window's start: the steps' own times sum
    # to less than it (0.6 of it here), and the suite must not expect more.
    steps = fast_gpu_steps(monkeypatch)
    switch = steps[steps["kind"] == "switch"]
    assert (switch.groupby("round")["step_s"].sum() < 0.025).all()
    assert not switch_windows_short_of_steps(steps, 1).any()
    assert not switch_windows_run_past_their_least_time(steps, 1, 0.025).any()


def test_a_loop_that_runs_on_past_the_least_time_is_caught(monkeypatch):
    # The same steps held to a least time a tenth as long: the loop would have
    # stopped long before, so windows this long break the guarantee.
    steps = fast_gpu_steps(monkeypatch)
    assert switch_windows_run_past_their_least_time(steps, 1, 0.0025).all()


def test_a_window_without_its_switch_steps_is_caught(monkeypatch):
    steps = fast_gpu_steps(monkeypatch)
    assert switch_windows_short_of_steps(steps, 10**6).all()
