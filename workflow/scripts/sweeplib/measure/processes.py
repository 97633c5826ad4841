"""A scale's timing job: its processes run one after another, each a fresh interpreter
(``worker.py``), and each device's files are assembled from what they measured.

Interleaved, every process trains every device of the scale side by side.
Separate (when they cannot share a process: their models do not fit in memory
together, or torch's BLAS fixes its threads at load), each process trains one
device, and the devices' processes alternate (``RunSpec.processes``), so a slow
minute still falls near both. The first process of each device saves its
checkpoint and test-set logits.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..common.atomic import write_csv, write_text
from ..common.env import host_environment
from ..common.memory import timing_needs
from ..common.tables import read_csv
from ..plan.runspec import Process, RunSpec, WorkerSpec
from ..plan.schedule import Schedule

WINDOW = ["device", "process", "round"]

# The worker runs in processes of its own and is never imported here: it imports
# torch, which this parent does not need (over a second per job). As a resource it
# still counts, with all it imports, as this module's code in the cache keys.
RESOURCES = ("worker.py",)
WORKER = f"{__package__}.worker"


class OtherHostError(RuntimeError):
    """The job runs on a CPU other than the one its run was planned for."""


def check_host(spec: RunSpec, env: dict, log) -> None:
    """Refuse to time on a CPU other than the planned one, and say so where the job
    may use fewer cores than its most threaded device. A job on a cluster inherits
    the plan, host facts included, so it keeps the planned keys on any node
    (``sweep.with_host``); its measurements must then be of that host too."""
    for device in spec.devices:
        if device.name.startswith("cpu") and device.hardware != env["cpu_model"]:
            raise OtherHostError(
                f"scale {spec.scale}'s run was planned for a {device.hardware!r} CPU, "
                f"but this job runs on a {env['cpu_model']!r} CPU: its timings would "
                "not be of the machine its key names. Run Snakemake on a node of the "
                "kind that runs the jobs, or in an allocation on one (docs/CLUSTER.md)"
            )
    threads = max(d.threads for d in spec.devices)
    cores = env["usable_cores"]
    if cores < threads:
        log(
            f"this job may use {cores} core{'s' if cores != 1 else ''}, fewer than "
            f"the {threads} threads its devices were planned with"
        )


@dataclass(frozen=True)
class ScaleJob:
    """One scale's timing job: its run, its dataset, each device's output paths, and a
    scratch folder for its processes' tables."""

    spec: RunSpec
    dataset: str
    outputs: dict[str, dict[str, str]]  # device -> name -> path
    work: Path

    def run(self, log) -> None:
        """Run the scale's processes, then write each device's steps and timings."""
        env = host_environment()
        check_host(self.spec, env, log)
        shutil.rmtree(self.work, ignore_errors=True)  # left by an interrupted job
        self.work.mkdir(parents=True)
        steps, procs = self.run_processes(log)
        for device, paths in self.outputs.items():
            mine = steps[steps["device"] == device]
            mine = mine.assign(run_key=self.spec.key, scale=self.spec.scale)
            table = device_timings(
                mine, procs[procs["device"] == device], self.spec, device, env
            )
            write_csv(paths["steps"], mine)
            write_text(paths["settings"], self.spec.to_json() + "\n")
            write_csv(paths["timings"], table)  # last: its presence means done
        shutil.rmtree(self.work, ignore_errors=True)

    def run_processes(self, log) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The scale's processes, one after another: all their steps, and one row per
        (process, device). The first process of each device saves its checkpoint.
        With a time budget (``timing.seconds``), another round of processes starts
        only while the time spent so far and one more round's mean fit in it."""
        processes = self.spec.processes(self.spec.most_processes)
        per_round = len(self.spec.processes(1))
        first = {
            d: i for i, p in reversed(list(enumerate(processes))) for d in p.devices
        }
        steps, procs, started = [], [], time.perf_counter()
        for i, process in enumerate(processes):
            if i % per_round == 0 and not self.another_round(i // per_round, started):
                break
            out = self.work / f"process{process.index}-{'+'.join(process.devices)}"
            save = {d: self.outputs[d] for d in process.devices if first[d] == i}
            spec = worker_spec(self.spec, process, self.dataset, out, save)
            log(f"process {process.index} ({', '.join(process.devices)}): started")
            wall = run_worker(spec, out, log)
            steps.append(read_csv(out / "steps.csv"))
            procs.append(read_csv(out / "process.csv").assign(process_wall_s=wall))
        return pd.concat(steps, ignore_index=True), pd.concat(procs, ignore_index=True)

    def another_round(self, done: int, started: float) -> bool:
        """Whether to start round ``done + 1`` of processes (one process per device,
        separate; one of all devices, interleaved)."""
        timing = self.spec.timing
        if done < timing.processes or not self.spec.budgeted:
            return done < timing.processes
        spent = time.perf_counter() - started
        return spent + spent / done <= timing.seconds


def worker_spec(
    spec: RunSpec, process: Process, dataset: str, out: Path, save: dict
) -> WorkerSpec:
    """What one timing process is told (``runspec.WorkerSpec``)."""
    return WorkerSpec(
        spec,
        process,
        str(dataset),
        str(out),
        host_estimate(spec, process.devices),
        save,
    )


def host_estimate(spec: RunSpec, devices) -> int:
    """Host memory a process training ``devices`` side by side is estimated to need."""
    models, nbytes = spec.footprint()
    return timing_needs({d: models[d] for d in devices}, nbytes)["host"]


def run_worker(spec: WorkerSpec, out: Path, log) -> float:
    """One fresh process; its output goes to the job's log, and a failure names its last
    lines. Returns its wall time, interpreter start-up included."""
    out.mkdir(parents=True)
    (out / "spec.json").write_text(spec.to_json())
    scripts = str(Path(__file__).resolve().parents[2])
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
        held = ", ".join(spec.process.devices)
        raise RuntimeError(
            f"timing process {spec.process.index} ({held}) failed "
            f"({exit_words(done.returncode)}):\n{tail}"
        )
    return time.perf_counter() - started


def exit_words(code: int) -> str:
    """How a process ended, in words: a kill by a signal is named (SIGKILL is what
    the kernel's out-of-memory killer sends)."""
    if code >= 0:
        return f"exit {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    hint = ": out of memory?" if name == "SIGKILL" else ""
    return f"killed by {name}{hint}"


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
            "host_window_s": by["host_window_s"].first(),
            "device_window_s": by["device_window_s"].first(),
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
    "trained_steps",
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
    steps: pd.DataFrame, procs: pd.DataFrame, spec: RunSpec, device: str, env: dict
) -> pd.DataFrame:
    """A device's timing table: one row per window, with the run's and the process's
    facts (docs/COLUMNS.md)."""
    run = {**run_columns(steps, procs, spec, device), **env}
    per_process = procs.set_index("process")[PROCESS_COLUMNS]
    warm = steps[steps["kind"] == "warmup"].groupby("process")["step_s"].sum()
    first = steps.sort_values("step").groupby("process")["step_s"].first()
    per_process = per_process.join(warm.rename("warmup_s")).join(
        first.rename("first_step_s")
    )
    windows = window_table(steps).join(per_process, on="process")
    return windows.assign(**run)[[*run, *[c for c in windows.columns if c not in run]]]


def run_columns(
    steps: pd.DataFrame, procs: pd.DataFrame, spec: RunSpec, device: str
) -> dict:
    """What a device's run is: its settings, totals, and what its saved model did."""
    train, timing, schedule = spec.training, spec.timing, spec.schedule()
    identity = spec.device(device)
    total_s, extrapolated = post_total(steps, procs, schedule, train.epochs)
    evaluated = procs.dropna(subset=["eval_s"])
    saved = evaluated.iloc[-1] if len(evaluated) else procs.iloc[-1]
    return {
        "run_key": spec.key,
        "pairing": spec.pairing,
        "hardware_tag": identity.hardware_tag,
        "scale": spec.scale,
        "params": spec.params,
        "device": device,
        "device_name": identity.hardware,
        "threads_requested": identity.threads,
        "epochs": train.epochs,
        "batch_size": train.batch_size,
        "precision": train.precision,
        "lr": train.lr,
        "loader": train.loader,
        "num_workers": train.num_workers,
        "processes": timing.processes,
        "rounds": timing.rounds,
        "warmup_steps": schedule.warmup_steps,
        "switch_steps": schedule.switch_steps,
        "steps_per_window": schedule.window_steps,
        "protocol_steps": schedule.protocol_steps,
        "mimic_post_prints": timing.mimic_post_prints,
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
    ``warmup_steps`` steps plus the median timed step for every remaining step. Only
    steps that trained count: an accelerator's rehearsals, run to last a least
    time, are not the post's. Evaluation: one measured pass per epoch.
    """
    eval_s = float(procs["eval_s"].median()) if procs["eval_s"].notna().any() else 0.0
    trained = steps[steps["trains"].astype(bool)].sort_values("step", kind="stable")

    def first(n: int) -> float:
        head = trained.groupby("process").head(n)
        return float(head.groupby("process")["step_s"].sum().median()) if n else 0.0

    if not schedule.capped:
        return first(schedule.protocol_steps) + eval_s * epochs, False
    step = float(steps.loc[steps["kind"] == "timed", "step_s"].median())
    remaining = schedule.protocol_steps - schedule.warmup_steps
    return first(schedule.warmup_steps) + step * remaining + eval_s * epochs, True
