"""Hand-made sweeps with known answers, built in the shapes the workflow writes."""

import numpy as np
import pandas as pd

from sweeplib.analysis import params_of_scale

# Step time = overhead + per-parameter cost x params, per device.
COSTS = {"cpu": (0.5e-3, 2.0e-9), "cuda": (3.0e-3, 0.3e-9), "mps": (6.0e-3, 0.5e-9), "cpu1": (0.4e-3, 4.0e-9)}


def true_crossover(a, b):
    (a1, b1), (a2, b2) = COSTS[a], COSTS[b]
    return (a2 - a1) / (b1 - b2)


def sweep(devices, scales, steps=40, noise=0.0, seed=0):
    """Step times drawn around each device's cost line (lognormal noise of sd ``noise``)."""
    rng = np.random.default_rng(seed)
    step_rows, timing_rows = [], []
    for device in devices:
        a, b = COSTS[device]
        for scale in scales:
            p = params_of_scale(scale)
            t = (a + b * p) * np.exp(rng.normal(0, noise, steps)) if noise else np.full(steps, a + b * p)
            key = f"{device}{scale:09d}"[-12:]
            for i, v in enumerate(t):
                step_rows.append({"run_key": key, "scale": scale, "device": device, "step": i, "epoch": 0,
                                  "repeat": i * 5 // steps, "step_s": v, "data_s": v / 10, "loss": 0.7})
            timing_rows.append({"run_key": key, "scale": scale, "params": int(p), "device": device,
                                "device_name": f"{device} model", "threads": 1 if device == "cpu1" else 2, "machine": "m1",
                                "first_step_s": 3 * t[0], "eval_s": 0.01, "total_s": 1000 * np.median(t),
                                "total_extrapolated": True, "wall_s": 1.0, "timed_steps": steps, "protocol_steps": 1000})
    hardware = pd.DataFrame([{"device": d, "device_name": f"{d} model", "threads": 2, "bandwidth_Bps": 1e10 if d.startswith("cpu") else 1e12,
                              "flops": 1e11} for d in devices])
    return pd.DataFrame(step_rows), pd.DataFrame(timing_rows), hardware
