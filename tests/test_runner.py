"""One training job as plain functions: determinism, memory estimate and out-of-memory reporting."""

import json
import subprocess
import sys

import pytest
import torch

from sweeplib import runner
from sweeplib.data import make_dataset
from sweeplib.sizes import ModelSizes
from workflow_helpers import ROOT


def settings(scale=1, threads=1):
    return {"scale": scale, "sizes": ModelSizes.for_scale(scale).to_dict(), "params": 0,
            "train": {"epochs": 1, "batch_size": 10, "lr": 0.5, "model_seed": 123, "loader": "dataloader", "num_workers": 0},
            "timing": {"warmup_steps": 1, "repeats": 2, "steps_per_repeat": 3, "mimic_seed_prints": False},
            "device": {"name": "cpu", "threads": threads}}


def test_same_config_trains_the_same_weights_on_the_cpu():
    data = make_dataset(100, 100, 20, seed=0)
    a = runner.run_training(settings(), data, "a", log=lambda s: None)
    b = runner.run_training(settings(), data, "b", log=lambda s: None)
    for (name, wa), wb in zip(a["model"].state_dict().items(), b["model"].state_dict().values()):
        assert torch.equal(wa, wb), name
    assert a["timings"]["dataset_sha256"].iloc[0] == b["timings"]["dataset_sha256"].iloc[0]
    assert list(a["steps"]["loss"]) == list(b["steps"]["loss"])


def test_timings_have_one_row_per_repeat_and_the_environment():
    out = runner.run_training(settings(), make_dataset(100, 100, 20, seed=0), "k", log=lambda s: None)
    t = out["timings"]
    assert list(t["repeat"]) == [0, 1] and set(t["steps"]) == {3}
    assert set(t["threads"]) == {1} and t["params"].iloc[0] == 90902
    for column in ("torch", "cpu_model", "usable_cores", "os", "python", "device_name", "peak_mem_bytes", "total_extrapolated"):
        assert column in t
    assert bool(t["total_extrapolated"].iloc[0])


def test_out_of_memory_names_the_scale_device_and_estimate(monkeypatch):
    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to allocate 1")

    monkeypatch.setattr(runner, "NeuralNetwork", no_memory)
    with pytest.raises(MemoryError, match=r"scale 1 on cpu ran out of memory; the estimate was 0\.\d\d GiB"):
        runner.run_training(settings(), make_dataset(100, 100, 20, seed=0), "k", log=lambda s: None)


PEAK = """
import json, sys
from sweeplib.data import make_dataset
from sweeplib.runner import run_training
s = json.loads(sys.argv[1])
t = run_training(s, make_dataset(s["sizes"]["num_inputs"], 1000, 200, 0), "k", log=lambda m: None)["timings"].iloc[0]
print(json.dumps([int(t["peak_mem_bytes"]), int(t["mem_estimate_bytes"])]))
"""


@pytest.mark.parametrize("scale", [10, 30])
def test_memory_estimate_matches_the_measured_peak(scale):
    # A fresh process, so its peak RSS is this run's alone.
    out = subprocess.run([sys.executable, "-c", PEAK, json.dumps(settings(scale, threads=2))], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT / "workflow" / "scripts"), "PATH": "/usr/bin:/bin"})
    peak, estimate = json.loads(out.stdout.strip().splitlines()[-1])
    assert 0.8 <= peak / estimate <= 1.25, (peak, estimate)
