"""Hand-made sweeps with known answers, in the shapes the workflow writes.

A simulated machine runs the timing design: each device's true step time is
``a + b P`` (``COSTS``); the machine's speed drifts and jumps over the run
(``Machine``), each process has a state of its own that scales each device's
times a little (``process_sd``), and every window has noise of its own.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sweeplib.common.sizes import params_of_scale

# Step time = overhead + per-parameter cost x params, per device.
COSTS = {
    "cpu": (0.5e-3, 2.0e-9),
    "cuda": (3.0e-3, 0.3e-9),
    "mps": (6.0e-3, 0.5e-9),
    "cpu1": (0.4e-3, 4.0e-9),
}


def true_time(device: str, scale: float) -> float:
    a, b = COSTS[device]
    return a + b * params_of_scale(scale)


def true_crossover(a: str, b: str) -> float:
    (a1, b1), (a2, b2) = COSTS[a], COSTS[b]
    return (a2 - a1) / (b1 - b2)


class Machine:
    """A slowness factor over a run's time in [0, 1]: a slow swing of +-``drift`` and
    ``jumps`` step changes of +-``jump`` that last a tenth of the run each."""

    def __init__(
        self,
        rng: np.random.Generator,
        drift: float = 0.0,
        jumps: int = 0,
        jump: float = 0.15,
    ):
        self.phase = rng.uniform(0, 2 * math.pi)
        self.drift = drift
        self.starts = rng.uniform(0, 0.9, jumps)
        self.signs = rng.choice([-1.0, 1.0], jumps) * jump

    def factor(self, t):
        t = np.asarray(t, dtype=float)
        f = 1 + self.drift * np.sin(2 * math.pi * t + self.phase)
        for start, size in zip(self.starts, self.signs):
            f = f * np.where((t >= start) & (t < start + 0.1), 1 + size, 1.0)
        return f


def windows(
    devices,
    scales,
    processes=3,
    rounds=5,
    noise=0.03,
    process_sd=0.0,
    machine=None,
    seed=0,
    pairing="interleaved",
    tag="here",
) -> pd.DataFrame:
    """Window rows as ``time_scale`` writes them, for an interleaved (or separate)
    design.

    Each scale takes an equal slice of the run; interleaved, a process's rounds give
    every device a window at nearly the same moment; separate, each device's process
    runs after the other's, alternating.
    """
    rng = np.random.default_rng(seed)
    machine = machine or Machine(rng)
    rows = []
    for k, scale in enumerate(scales):
        for p in range(processes):
            effect = {d: math.exp(rng.normal(0, process_sd)) for d in devices}
            for r in range(rounds):
                order = list(rng.permutation(devices))
                for slot, d in enumerate(order):
                    if pairing == "interleaved":
                        frac = (p + (r + slot / len(devices)) / rounds) / processes
                    else:
                        frac = (
                            p + (devices.index(d) + r / rounds) / len(devices)
                        ) / processes
                    t = (k + frac) / len(scales)
                    value = (
                        true_time(d, scale)
                        * float(machine.factor(t))
                        * effect[d]
                        * math.exp(rng.normal(0, noise))
                    )
                    rows.append(_row(d, scale, p, r, slot, value, pairing, t))
    return pd.DataFrame(rows).assign(machine=tag)


def _row(device, scale, process, round_, slot, value, pairing, t) -> dict:
    return {
        "scale": scale,
        "params": int(params_of_scale(scale)),
        "device": device,
        "device_name": f"{device} model",
        "threads": 1 if device == "cpu1" else 2,
        "threads_requested": 1 if device == "cpu1" else 2,
        "hardware_tag": "m1",
        "run_key": f"{round(scale * 100):012d}",
        "pairing": pairing,
        "process": process,
        "round": round_,
        "slot": slot,
        "window_steps": 10,
        "batch_size": 10,
        "step_median_s": value,
        "step_q25_s": value * 0.97,
        "step_q75_s": value * 1.03,
        "switch_step_s": value * 1.1,
        "data_share": 0.1,
        "first_step_s": 3 * value,
        "build_s": 0.01,
        "eval_s": 0.01,
        "total_s": 1000 * value,
        "total_extrapolated": True,
        "peak_rss_bytes": 4e8,
        "mem_estimate_bytes": 4.2e8,
        "started_at": 1000.0 + 100 * t,
        "ended_at": 1000.0 + 100 * t + 0.5,
    }


def hardware(devices, machine="here") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "device": d,
                "device_name": f"{d} model",
                "threads": 2,
                "bandwidth_Bps": 1e10 if d.startswith("cpu") else 1e12,
                "copy_bytes": 2**29,
                "flops": 1e11 if d.startswith("cpu") else 1e13,
                "llc_bytes": float("nan"),
                "started_at": 2.0 * i,
                "ended_at": 2.0 * i + 1,
            }
            for i, d in enumerate(devices)
        ]
    ).assign(machine=machine)


def plan(devices, baseline, scales, machine="here", cpu="Test CPU") -> dict:
    """A machine's plan, as write_plan writes it, for the report's tests."""
    accelerators = {d: f"{d} model" for d in devices if d in ("cuda", "mps")}
    return {
        "machine": machine,
        "baseline": baseline,
        "devices": devices,
        "scales": list(scales),
        "info": {
            "tag": machine,
            "cpu_model": cpu,
            "usable_cores": 2,
            "torch": "2.13.0",
            "accelerators": accelerators,
        },
        "environment": {"cpu_model": cpu, "usable_cores": 2, "torch": "2.13.0"},
        "hardware": {
            d: {
                "device": {"hardware": f"{d} model", "threads": 2, "hardware_tag": "m1"}
            }
            for d in devices
        },
        "skipped": [],
        "runs": [],
    }


def inference(devices, scales, machine="here") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "machine": machine,
                "scale": s,
                "device": d,
                "predictions_equal": True,
                "max_abs_diff": 0.0,
                "accuracy": 0.5,
                "nonfinite_logits": 0,
                "infer_batch_median_s": 1e-4,
                "started_at": 500.0 + 2 * i,
                "ended_at": 501.0 + 2 * i,
            }
            for i, (s, d) in enumerate((s, d) for s in scales for d in devices)
        ]
    )


def no_spans() -> pd.DataFrame:
    return pd.DataFrame(columns=["job", "start", "end"])


def facts(
    accelerators=(), blas="mkl", threading="per window", default_threads=2, cpu=None
) -> dict:
    """What the probe (``sweeplib/plan/probe.py``) would report of a machine: a 2-core
    CPU with MKL, and the named accelerators."""
    names = {"cuda": "Test GPU", "mps": "Apple MPS (Test CPU)"}
    return {
        "torch": "2.13.0",
        "default_threads": default_threads,
        "blas": blas,
        "blas_threading": threading,
        "parallel": "OpenMP",
        "cpu": cpu or {"logical": 2, "physical": 2, "performance": None, "usable": 2},
        "accelerators": {
            a: {"name": names[a], "free_bytes": 80 * 2**30, "total_bytes": 80 * 2**30}
            for a in accelerators
        },
    }


def run_spec(
    scale=1,
    devices=(("cpu1", 1), ("cpu", 2)),
    pairing="interleaved",
    n_train=1000,
    training=None,
    **timing,
):
    """A run as the plan makes one (``sweeplib.plan.runspec``): the post's model at
    ``scale``, one epoch at lr 0.05 (or ``training``), two processes of two rounds of
    two-step windows (``timing`` overrides), on ``devices`` (name, threads)."""
    from sweeplib.common.sizes import ModelSizes
    from sweeplib.plan.runspec import Dataset, Device, RunSpec, Timing, Training

    sizes = ModelSizes.for_scale(scale)
    return RunSpec(
        scale=scale,
        sizes=sizes,
        data=Dataset(sizes.num_inputs, n_train, 200, 0, "2.13.0", "code"),
        training=training or Training(1, 10, 0.05, 123, "dataloader", 0),
        timing=Timing(
            **{
                "processes": 2,
                "rounds": 2,
                "steps_per_window": 2,
                "warmup_steps": 1,
                "switch_steps": 1,
                "order_seed": 0,
                "accelerator_warmup_s": 0.25,
                "accelerator_switch_s": 0.025,
                "mimic_post_prints": False,
                **timing,
            }
        ),
        devices=tuple(Device(n, t, "test CPU", "m") for n, t in devices),
        pairing=pairing,
        torch="2.13.0",
        code="code",
    )


class ClockedSteps:
    """A trainer whose steps take ``step_s`` each by a fake clock (``now["now"]``,
    which a test puts in place of timing.py's) that also advances by ``between_s``
    between steps: the bookkeeping a timed region leaves out, as on a fast GPU. Only
    the steps advance it: a real sleep oversleeps on a busy machine."""

    clock = None  # no device clock: the windows' device time is NaN

    def __init__(self, name, accelerator, now, step_s=0.002, between_s=0.0):
        self.name, self.on_accelerator, self.now = name, accelerator, now
        self.step_s, self.between_s, self.runs = step_s, between_s, 0

    def activate(self):
        pass

    def step(self, trains=True):
        self.now["now"] += self.step_s + self.between_s
        self.runs += 1
        return {"step": self.runs - 1, "step_s": self.step_s, "trains": trains}

    def can_rehearse(self):
        return self.runs > 0

    def rehearse(self):
        return self.step(trains=False)

    def loss_values(self):
        return [0.0] * self.runs


def clocked_rounds(monkeypatch, trainers, now, switch_s=0.02):
    """``run_rounds`` of ``trainers`` (``ClockedSteps`` on the clock ``now``, which
    replaces timing.py's own: pytest's and everything else's stays real) over a short
    schedule whose accelerator steps last 0.05 s to warm up and ``switch_s`` after a
    switch: the records, and the schedule."""
    import random
    from types import SimpleNamespace

    from sweeplib.measure import timing
    from sweeplib.plan.schedule import Schedule

    schedule = Schedule(
        protocol_steps=100,
        warmup_steps=1,
        rounds=3,
        steps_per_window=2,
        switch_steps=1,
        accelerator_warmup_s=0.05,
        accelerator_switch_s=switch_s,
    )
    monkeypatch.setattr(
        timing, "time", SimpleNamespace(perf_counter=lambda: now["now"])
    )
    return timing.run_rounds(trainers, schedule, random.Random(0)), schedule
