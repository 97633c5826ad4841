"""In-process measurements: harness fidelity, the data-loading axis, the hardware bound,
memory."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sweeplib.common.atomic import torch_save
from sweeplib.common.sizes import ModelSizes
from sweeplib.measure.data import make_dataset
from sweeplib.measure.hardware import copy_bandwidth
from sweeplib.measure.processes import worker_spec
from sweeplib.measure.timing import run_rounds
from sweeplib.measure.training import build_trainer
from sweeplib.plan.runspec import Process, RunSpec, Training
from sweeplib.plan.schedule import Schedule
from synthetic import run_spec


def spread(values) -> dict:
    q25, med, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {
        "median": float(med),
        "q25": float(q25),
        "q75": float(q75),
        "n": len(values),
    }


def spec(
    scale: int, loader: str = "dataloader", workers: int = 0, devices=None
) -> RunSpec:
    """A one-process run of the post's protocol at ``scale`` on the CPU (all threads),
    or on ``devices`` (name, threads)."""
    threads = torch.get_num_threads()
    return run_spec(
        scale,
        devices=devices or (("cpu", threads),),
        training=Training(10, 10, 0.05, 123, loader, workers),
        processes=1,
        rounds=1,
        steps_per_window=1,
        warmup_steps=1,
        switch_steps=0,
    )


def trainer(scale: int, loader: str = "dataloader", workers: int = 0):
    data = make_dataset(100 * scale, 1000, 200, seed=0)
    threads = torch.get_num_threads()
    run = spec(scale, loader, workers)
    return build_trainer("cpu", threads, run.sizes, run.training, data, threads)


def harness_steps(t, steps: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """The workflow's own timed loop (``run_rounds``, one device, one window): per-step
    times."""
    schedule = Schedule(
        protocol_steps=10**6,
        warmup_steps=warmup,
        rounds=1,
        steps_per_window=steps,
        switch_steps=0,
    )
    records = [
        r
        for r in run_rounds({"cpu": t}, schedule, random.Random(0))
        if r["kind"] == "timed"
    ]
    return [r["step_s"] for r in records], [r["data_s"] for r in records]


def bare_steps(t, steps: int, warmup: int = 2) -> float:
    """A hand-written loop doing the same work, timed as one block: mean seconds per
    step."""
    batches = iter(t.loader)

    def step():
        nonlocal batches
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(t.loader)
            x, y = next(batches)
        loss = F.cross_entropy(t.model(x), y)
        t.optimizer.zero_grad()
        loss.backward()
        t.optimizer.step()

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def fidelity(scale: int, rounds: int, steps: int) -> dict:
    """Harness mean step over bare-loop mean step, alternating which goes first, in one
    process."""
    t = trainer(scale)
    ratios, harness, bare = [], [], []
    for r in range(rounds):
        got = {}
        for which in ("harness", "bare") if r % 2 == 0 else ("bare", "harness"):
            got[which] = (
                float(np.mean(harness_steps(t, steps)[0]))
                if which == "harness"
                else bare_steps(t, steps)
            )
        harness.append(got["harness"])
        bare.append(got["bare"])
        ratios.append(got["harness"] / got["bare"])
    return {
        "scale": scale,
        "ratio": spread(ratios),
        "harness_s": spread(harness),
        "bare_s": spread(bare),
    }


LOADERS = [("dataloader", 0), ("dataloader", 4), ("tensor", 0)]


def loader_axis(scale: int, rounds: int, steps: int) -> list[dict]:
    """Per-step time and data share of each loader, rotating their order by round."""
    times = {k: [] for k in LOADERS}
    shares = {k: [] for k in LOADERS}
    trainers = {k: trainer(scale, *k) for k in LOADERS}
    for r in range(rounds):
        for k in LOADERS[r % 3 :] + LOADERS[: r % 3]:
            step_s, data_s = harness_steps(trainers[k], steps, warmup=3)
            times[k].append(float(np.median(step_s)))
            shares[k].append(float(np.sum(data_s) / np.sum(step_s)))
    base = np.median(times[LOADERS[0]])
    return [
        {
            "scale": scale,
            "loader": k[0],
            "num_workers": k[1],
            "step_s": spread(times[k]),
            "ratio_to_post": float(np.median(times[k]) / base),
            "data_share": spread(shares[k]),
        }
        for k in LOADERS
    ]


def hardware_bound(scale: int, steps: int, copy_mib: int) -> dict:
    """A training step's achieved bandwidth against a large copy's, in one process."""
    step_s, _ = harness_steps(trainer(scale), steps)
    bw = copy_bandwidth("cpu", lambda: None, copy_mib, repeats=10, min_seconds=0.05)
    sizes = ModelSizes.for_scale(scale)
    step = float(np.median(step_s))
    bound = sizes.bytes_per_step() / bw["bandwidth_Bps"]
    return {
        "scale": scale,
        "params": sizes.num_params,
        "bytes_per_step": sizes.bytes_per_step(),
        "step_s": spread(step_s),
        "copy_Bps": bw["bandwidth_Bps"],
        "achieved_Bps": sizes.bytes_per_step() / step,
        "fraction": sizes.bytes_per_step() / step / bw["bandwidth_Bps"],
        "memory_bound_s": bound,
        "step_over_bound": step / bound,
    }


def memory(scale: int, devices: list[str], scripts: str, where: Path) -> dict:
    """Peak RSS of a fresh timing process holding ``devices``, against the estimate made
    before it ran."""
    threads = {d: 1 if d == "cpu1" else torch.get_num_threads() for d in devices}
    run = spec(scale, devices=tuple(threads.items()))
    where.mkdir(parents=True, exist_ok=True)
    torch_save(where / "data.pt", make_dataset(100 * scale, 1000, 200, seed=0))
    process = Process(0, tuple(devices), max(threads.values()))
    told = worker_spec(run, process, where / "data.pt", where / "out", {})
    (where / "spec.json").write_text(told.to_json())
    subprocess.run(
        [sys.executable, "-m", "sweeplib.measure.worker", str(where / "spec.json")],
        check=True,
        env={"PYTHONPATH": scripts, "PATH": "/usr/bin:/bin"},
    )
    row = (where / "out" / "process.csv").read_text().splitlines()
    header, first = row[0].split(","), row[1].split(",")
    peak, estimate = (
        int(float(first[header.index("peak_rss_bytes")])),
        told.mem_estimate_bytes,
    )
    sizes = ModelSizes.for_scale(scale)
    return {
        "scale": scale,
        "devices": "+".join(devices),
        "params": sizes.num_params,
        "peak_bytes": peak,
        "estimate_bytes": estimate,
        "weights_bytes": 4 * sizes.num_params * len(devices),
        "ratio": peak / estimate,
    }
