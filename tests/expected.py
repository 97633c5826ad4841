"""What the suite expects of a finished sweep, derived from the machine's own plan
(its ``plan.json``) and its own torch, never from this machine's: the pairing the
plan chose (a BLAS that fixes its threads at load times ``cpu1`` and ``cpu``
apart), the runs refinement added, the least time the accelerator's switch steps
ran for, and the host memory of the installed torch wheel."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

# A device's window in steps.csv.
WINDOW = ["run_key", "device", "process", "round"]


def machine_plan(project: Path) -> dict:
    """The plan of the machine that ran the project's sweep (its ``plan.json``)."""
    (path,) = project.glob("results/machines/*/plan.json")
    return json.loads(path.read_text())


def planned_pairing(plan: dict) -> str:
    """The one pairing the plan chose for all its runs (interleaved, or separate
    where the devices cannot share a process)."""
    (pairing,) = {r["pairing"] for r in plan["runs"]}
    return pairing


def planned_runs(plan: dict, device: str) -> set[str]:
    """The keys of the runs that hold ``device``: the configured sizes and whatever
    refinement added (other sizes, extra waves of processes)."""
    return {r["key"] for r in plan["runs"] if device in r["devices"]}


def switch_windows_run_past_their_least_time(
    steps: pd.DataFrame, switch_steps: int, least_s: float
) -> pd.Series:
    """The switch windows (by run, process, round) in which the timing loop ran more
    steps than it had to: more than ``switch_steps``, though the steps before the
    last already summed to ``least_s``.

    The loop (``timing.run_rounds``) runs ``switch_steps`` steps, then untimed
    rehearsals while the wall clock since the window started is short of
    ``least_s``. That clock also counts the bookkeeping between steps, which
    ``step_s`` leaves out, so the steps may sum to less than ``least_s``; but every
    step before the last began while less than ``least_s`` had passed, so those
    steps sum to less than it."""
    switch = steps[steps["kind"] == "switch"].sort_values("step", kind="stable")
    windows = switch.groupby(WINDOW)["step_s"]
    before_last = windows.apply(lambda s: s.iloc[:-1].sum())
    extra = windows.size() > switch_steps
    return extra & (before_last >= least_s)


def switch_windows_short_of_steps(steps: pd.DataFrame, switch_steps: int) -> pd.Series:
    """The switch windows with fewer than ``switch_steps`` steps."""
    switch = steps[steps["kind"] == "switch"]
    return switch.groupby(WINDOW).size() < switch_steps
