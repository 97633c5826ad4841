"""In-process measurements: harness fidelity, the data-loading axis, the hardware bound, memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from sweeplib.data import make_dataset, make_loader
from sweeplib.hardware import copy_bandwidth
from sweeplib.memory import estimate
from sweeplib.model import NeuralNetwork
from sweeplib.sizes import ModelSizes
from sweeplib.timing import TimingPlan, train_timed


def spread(values) -> dict:
    q25, med, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": float(med), "q25": float(q25), "q75": float(q75), "n": len(values)}


def setup(scale: int, loader: str = "dataloader", workers: int = 0, n_test: int = 200):
    data = make_dataset(100 * scale, 1000, n_test, seed=0)
    torch.manual_seed(123)
    model = NeuralNetwork(ModelSizes.for_scale(scale))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    train = make_loader(data["X_train"], data["Y_train"], kind=loader, batch_size=10, shuffle=True, num_workers=workers)
    test = make_loader(data["X_test"], data["Y_test"], kind=loader, batch_size=10, shuffle=False)
    return data, model, optimizer, train, test


def harness_steps(model, optimizer, train, test, labels, steps: int, warmup: int = 2):
    """The workflow's own timed loop: per-step times of ``steps`` timed steps."""
    plan = TimingPlan(protocol_steps=len(train), warmup_steps=warmup, repeats=1, steps_per_repeat=steps)
    result = train_timed(model, optimizer, train, test, labels, epochs=1, plan=plan, device="cpu", sync=lambda: None,
                         log=lambda s: None)
    timed = [s for s in result.steps if s["repeat"] >= 0]
    return [s["step_s"] for s in timed], [s["data_s"] for s in timed]


def bare_step(model, optimizer, it) -> None:
    x, y = next(it)
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def bare_steps(model, optimizer, train, steps: int, warmup: int = 2) -> float:
    """A hand-written loop doing the same work, timed as one block: mean seconds per step."""
    it = iter(train)
    for _ in range(warmup):
        bare_step(model, optimizer, it)
    t0 = time.perf_counter()
    for _ in range(steps):
        bare_step(model, optimizer, it)
    return (time.perf_counter() - t0) / steps


def fidelity(scale: int, rounds: int, steps: int) -> dict:
    """Harness mean step over bare-loop mean step, alternating which goes first, in one process."""
    data, model, optimizer, train, test = setup(scale, n_test=10)
    ratios, harness, bare = [], [], []
    for r in range(rounds):
        results = {}
        for which in (("harness", "bare") if r % 2 == 0 else ("bare", "harness")):
            if which == "harness":
                results[which] = float(np.mean(harness_steps(model, optimizer, train, test, data["Y_test"], steps)[0]))
            else:
                results[which] = bare_steps(model, optimizer, train, steps)
        harness.append(results["harness"])
        bare.append(results["bare"])
        ratios.append(results["harness"] / results["bare"])
    return {"scale": scale, "ratio": spread(ratios), "harness_s": spread(harness), "bare_s": spread(bare)}


LOADERS = [("dataloader", 0), ("dataloader", 4), ("tensor", 0)]


def loader_axis(scale: int, rounds: int, steps: int) -> list[dict]:
    """Per-step time and data share of each loader, rotating their order across rounds."""
    times = {k: [] for k in LOADERS}
    shares = {k: [] for k in LOADERS}
    setups = {k: setup(scale, *k, n_test=10) for k in LOADERS}
    for r in range(rounds):
        for k in LOADERS[r % 3:] + LOADERS[: r % 3]:
            data, model, optimizer, train, test = setups[k]
            step_s, data_s = harness_steps(model, optimizer, train, test, data["Y_test"], steps, warmup=3)
            times[k].append(float(np.median(step_s)))
            shares[k].append(float(np.sum(data_s) / np.sum(step_s)))
    base = np.median(times[LOADERS[0]])
    return [{"scale": scale, "loader": k[0], "num_workers": k[1], "step_s": spread(times[k]),
             "ratio_to_seed": float(np.median(times[k]) / base), "data_share": spread(shares[k])} for k in LOADERS]


def hardware_bound(scale: int, steps: int, copy_mib: int) -> dict:
    """A training step's achieved bandwidth against a large copy's, in the same process."""
    data, model, optimizer, train, test = setup(scale, n_test=10)
    step_s, _ = harness_steps(model, optimizer, train, test, data["Y_test"], steps)
    bw = copy_bandwidth("cpu", lambda: None, copy_mib, repeats=10)
    sizes = ModelSizes.for_scale(scale)
    step = float(np.median(step_s))
    bound = sizes.bytes_per_step() / bw["bandwidth_Bps"]
    return {"scale": scale, "params": sizes.num_params, "bytes_per_step": sizes.bytes_per_step(), "step_s": spread(step_s),
            "copy_Bps": bw["bandwidth_Bps"], "achieved_Bps": sizes.bytes_per_step() / step,
            "fraction": sizes.bytes_per_step() / step / bw["bandwidth_Bps"], "memory_bound_s": bound, "step_over_bound": step / bound}


PEAK_SCRIPT = """
import json, resource, sys, torch
from sweeplib.data import make_dataset
from sweeplib.runner import run_training
scale = int(sys.argv[1])
sizes = {"num_inputs": 100 * scale, "hidden1": 300 * scale, "hidden2": 200 * scale, "num_outputs": 2}
settings = {"scale": scale, "sizes": sizes, "params": 0,
            "train": {"epochs": 1, "batch_size": 10, "lr": 0.5, "model_seed": 123, "loader": "dataloader", "num_workers": 0},
            "timing": {"warmup_steps": 1, "repeats": 2, "steps_per_repeat": 1, "mimic_seed_prints": False},
            "device": {"name": "cpu", "threads": torch.get_num_threads()}}
result = run_training(settings, make_dataset(100 * scale, 1000, 200, 0), "bench", log=lambda s: None)
t = result["timings"].iloc[0]
print(json.dumps({"peak": int(t["peak_mem_bytes"]), "estimate": int(t["mem_estimate_bytes"])}))
"""


def memory(scale: int, scripts: str) -> dict:
    """Peak RSS of a fresh process training one scale, against the estimate made before it ran."""
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(scale)], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": scripts, "PATH": "/usr/bin:/bin"})
    r = json.loads(out.stdout.strip().splitlines()[-1])
    sizes = ModelSizes.for_scale(scale)
    fp = estimate(sizes, 10, 1000, 200, accelerator=False)
    return {"scale": scale, "params": sizes.num_params, "peak_bytes": r["peak"], "estimate_bytes": r["estimate"],
            "weights_bytes": fp.weights, "ratio": r["peak"] / r["estimate"]}
