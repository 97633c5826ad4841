"""A scale's timing job: its processes run one after another, each a fresh interpreter
(``worker.py``), and each device's files are assembled from what they measured.

Interleaved, every process trains every device of the scale side by side.
Separate (when the models do not fit in memory together), each process trains
one device, and the devices' processes alternate (as asv's
``--interleave-processes`` does), so a slow minute still falls near both.
The last process of each device saves its checkpoint and test-set logits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .atomic import write_csv, write_text
from .devices import INTERLEAVED
from .env import host_environment
from .memory import run_footprint, timing_needs
from .schedule import Schedule, protocol_steps

WINDOW = ["device", "process", "round"]

# The worker runs in processes of its own and is never imported here: it imports
# torch, which this parent does not need (over a second per job). As a resource it
# still counts, with all it imports, as this module's code in the cache keys.
RESOURCES = ("worker.py",)
WORKER = f"{__package__}.worker"


def process_specs(
    devices: list[str], processes: int, pairing: str
) -> list[tuple[int, list[str]]]:
    """(process index, devices it trains), in the order the processes run."""
    if pairing == INTERLEAVED:
        return [(p, list(devices)) for p in range(processes)]
    return [(p, [d]) for p in range(processes) for d in devices]


@dataclass(frozen=True)
class ScaleJob:
    """One scale's timing job: its settings and key, its dataset, each device's output
    paths, and a scratch folder for its processes' tables."""

    settings: dict
    run_key: str
    dataset: str
    outputs: dict[str, dict[str, str]]  # device -> name -> path
    work: Path

    def run(self, log) -> None:
        """Run the scale's processes, then write each device's steps and timings."""
        shutil.rmtree(self.work, ignore_errors=True)  # left by an interrupted job
        self.work.mkdir(parents=True)
        steps, procs = self.run_processes(log)
        env = host_environment()
        for device, paths in self.outputs.items():
            mine = steps[steps["device"] == device]
            mine = mine.assign(run_key=self.run_key, scale=self.settings["scale"])
            table = device_timings(
                mine,
                procs[procs["device"] == device],
                self.settings,
                device,
                self.run_key,
                env,
            )
            write_csv(paths["steps"], mine)
            write_text(
                paths["settings"],
                json.dumps(self.settings, indent=2, sort_keys=True) + "\n",
            )
            write_csv(paths["timings"], table)  # last: its presence means done
        shutil.rmtree(self.work, ignore_errors=True)

    def run_processes(self, log) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every process of the scale, one after another: all their steps, and one row
        per (process, device). The last process of each device saves its checkpoint."""
        devices = [d["name"] for d in self.settings["devices"]]
        timing = self.settings["timing"]
        specs = process_specs(devices, timing["processes"], self.settings["pairing"])
        last = {d: i for i, (_, held) in enumerate(specs) for d in held}
        steps, procs = [], []
        for i, (process, held) in enumerate(specs):
            out = self.work / f"process{process}-{'+'.join(held)}"
            spec = {
                "settings": self.settings,
                "run_key": self.run_key,
                "process": process,
                "devices": held,
                "dataset": self.dataset,
                "out": str(out),
                "threads": process_threads(self.settings, held),
                "mem_estimate_bytes": host_estimate(self.settings, held),
                "save": {d: self.outputs[d] for d in held if last[d] == i},
            }
            log(f"process {process} ({', '.join(held)}): started")
            wall = run_worker(spec, out, log)
            steps.append(pd.read_csv(out / "steps.csv"))
            procs.append(pd.read_csv(out / "process.csv").assign(process_wall_s=wall))
        return pd.concat(steps, ignore_index=True), pd.concat(procs, ignore_index=True)


def process_threads(settings: dict, devices: list[str]) -> int:
    """The threads a process training ``devices`` runs its thread variables with: the
    most any of them uses (each window then claims its own with
    ``torch.set_num_threads``)."""
    return max(d["threads"] for d in settings["devices"] if d["name"] in devices)


def host_estimate(settings: dict, devices: list[str]) -> int:
    """Host memory a process training ``devices`` side by side is estimated to need."""
    models, nbytes = run_footprint(settings)
    return timing_needs({d: models[d] for d in devices}, nbytes)["host"]


def run_worker(spec: dict, out: Path, log) -> float:
    """One fresh process; its output goes to the job's log, and a failure names its last
    lines. Returns its wall time, interpreter start-up included."""
    out.mkdir(parents=True)
    (out / "spec.json").write_text(json.dumps(spec))
    scripts = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": scripts}
    started = time.perf_counter()
    with open(out / "worker.log", "w") as f:
        done = subprocess.run(
            [sys.executable, "-m", WORKER, str(out / "spec.json")],
            stdout=f,
            stderr=subprocess.STDOUT,
            env=env,
        )
    text = (out / "worker.log").read_text()
    for line in text.splitlines():
        log(f"  {line}")
    if done.returncode != 0:
        tail = "\n".join(text.splitlines()[-15:])
        raise RuntimeError(
            f"timing process {spec['process']} ({', '.join(spec['devices'])}) failed "
            f"(exit {done.returncode}):\n{tail}"
        )
    return time.perf_counter() - started


def window_table(steps: pd.DataFrame) -> pd.DataFrame:
    """One row per window (a device's turn in a round): its timed steps' statistics."""
    timed = steps[steps["kind"] == "timed"]
    by = timed.groupby(WINDOW, sort=True)
    q = by["step_s"].quantile([0.25, 0.5, 0.75]).unstack()
    sums = by[["step_s", "data_s"]].sum()
    out = pd.DataFrame(
        {
            "slot": by["slot"].first(),
            "threads": by["threads"].first(),
            "window_steps": by.size(),
            "step_median_s": q[0.5],
            "step_q25_s": q[0.25],
            "step_q75_s": q[0.75],
            "step_min_s": by["step_s"].min(),
            "step_max_s": by["step_s"].max(),
            "data_median_s": by["data_s"].median(),
            "data_share": sums["data_s"] / sums["step_s"],
        }
    )
    switch = (
        steps[steps["kind"] == "switch"]
        .groupby(WINDOW)["step_s"]
        .first()
        .rename("switch_step_s")
    )
    first_timed = by["step_s"].first().rename("first_timed_step_s")
    return out.join(switch).join(first_timed).reset_index()


PROCESS_COLUMNS = [
    "node",
    "build_s",
    "peak_rss_bytes",
    "device_peak_bytes",
    "device_end_bytes",
    "mem_estimate_bytes",
    "process_threads",
    "thread_variables",
    "started_at",
    "ended_at",
    "process_wall_s",
]


def device_timings(
    steps: pd.DataFrame,
    procs: pd.DataFrame,
    settings: dict,
    device: str,
    run_key: str,
    env: dict,
) -> pd.DataFrame:
    """A device's timing table: one row per window, with the run's and the process's
    facts (docs/COLUMNS.md)."""
    run = {**run_columns(steps, procs, settings, device, run_key), **env}
    per_process = procs.set_index("process")[PROCESS_COLUMNS]
    warm = steps[steps["kind"] == "warmup"].groupby("process")["step_s"].sum()
    first = steps.sort_values("step").groupby("process")["step_s"].first()
    per_process = per_process.join(warm.rename("warmup_s")).join(
        first.rename("first_step_s")
    )
    windows = window_table(steps).join(per_process, on="process")
    return windows.assign(**run)[[*run, *[c for c in windows.columns if c not in run]]]


def run_columns(
    steps: pd.DataFrame, procs: pd.DataFrame, settings: dict, device: str, run_key: str
) -> dict:
    """What a device's run is: its settings, totals, and what its saved model did."""
    train, timing = settings["train"], settings["timing"]
    steps_in_protocol = protocol_steps(
        train["epochs"], settings["data"]["n_train"], train["batch_size"]
    )
    schedule = Schedule.from_settings(timing, steps_in_protocol)
    identity = next(d for d in settings["devices"] if d["name"] == device)
    total_s, extrapolated = post_total(steps, procs, schedule, train["epochs"])
    evaluated = procs.dropna(subset=["eval_s"])
    saved = evaluated.iloc[-1] if len(evaluated) else procs.iloc[-1]
    return {
        "run_key": run_key,
        "pairing": settings["pairing"],
        "machine": identity["machine"],
        "scale": settings["scale"],
        "params": settings["params"],
        "device": device,
        "device_name": identity["hardware"],
        "threads_requested": identity["threads"],
        **{
            k: train[k] for k in ("epochs", "batch_size", "lr", "loader", "num_workers")
        },
        "processes": timing["processes"],
        "rounds": timing["rounds"],
        "warmup_steps": schedule.warmup_steps,
        "switch_steps": schedule.switch_steps,
        "steps_per_window": schedule.window_steps,
        "protocol_steps": schedule.protocol_steps,
        "mimic_post_prints": timing["mimic_post_prints"],
        **{
            k: saved.get(k)
            for k in ("eval_s", "eval_batches", "final_accuracy", "dataset_sha256")
        },
        "total_s": total_s,
        "total_extrapolated": extrapolated,
    }


def post_total(
    steps: pd.DataFrame, procs: pd.DataFrame, schedule: Schedule, epochs: int
) -> tuple[float, bool]:
    """Seconds of the post's whole protocol on this device, and whether they are
    extrapolated.

    Training steps: when a process trained the whole protocol, the median over processes
    of its first protocol's worth of steps; otherwise the median time of the first
    ``warmup_steps`` steps plus the median timed step for every remaining step (an
    accelerator's warm-up may run longer, by time: those extra steps are not the
    post's). Evaluation: one measured pass per epoch.
    """
    eval_s = float(procs["eval_s"].median()) if procs["eval_s"].notna().any() else 0.0

    def first(n: int) -> float:
        head = steps[steps["step"] < n]
        return float(head.groupby("process")["step_s"].sum().median()) if n else 0.0

    if not schedule.capped:
        return first(schedule.protocol_steps) + eval_s * epochs, False
    step = float(steps.loc[steps["kind"] == "timed", "step_s"].median())
    remaining = schedule.protocol_steps - schedule.warmup_steps
    return first(schedule.warmup_steps) + step * remaining + eval_s * epochs, True
