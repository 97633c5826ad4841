"""The suite's expectations of a finished sweep follow the machine's own facts and
plan (``tests/expected.py``), checked here with another platform's facts: a Mac's
BLAS, a fast GPU's switch steps, a plan that refinement grew."""

import copy

import pandas as pd

from expected import (
    planned_pairing,
    planned_runs,
    switch_windows_run_past_their_least_time,
    switch_windows_short_of_steps,
)
from sweeplib.plan.plan_files import machine_plan
from sweeplib.plan.sweep import plan_sweep, refined
from synthetic import ClockedSteps, clocked_rounds, facts
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
    added = {"scale": 1.5, "wave": 0}
    decision = {"stop": True, "history": [{"added": [added]}]}
    grown = machine_plan(refined(first, decision))
    assert len(planned_runs(grown, "cuda")) == len(SMALL["scales"]) + 1
    assert planned_runs(grown, "cuda") == {r["key"] for r in grown["runs"]}


def fast_gpu_steps(monkeypatch, least_s=0.025) -> pd.DataFrame:
    now = {"now": 0.0}
    fast = ClockedSteps("cuda", True, now, step_s=0.0003, between_s=0.0002)
    records, _ = clocked_rounds(monkeypatch, {"cuda": fast}, now, least_s)
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
