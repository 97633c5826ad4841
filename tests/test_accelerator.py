"""Interleaving the CPU with an accelerator (CUDA or MPS) in one process trains each
device's model as it would train alone, and the two agree. Skipped on a machine
without an accelerator; there, tests/test_timing.py checks the same loop with the
CPU's two devices (one thread and all cores)."""

import random

import pytest
import torch
from sweeplib.data import make_dataset
from sweeplib.devices import available_accelerators
from sweeplib.schedule import Schedule
from sweeplib.sizes import ModelSizes
from sweeplib.timing import run_rounds
from sweeplib.worker import build_trainer

ACCELERATORS = available_accelerators()
pytestmark = pytest.mark.skipif(
    not ACCELERATORS, reason="no CUDA or MPS device on this machine"
)

SETTINGS = {
    "scale": 1,
    "sizes": ModelSizes(20, 30, 10).to_dict(),
    "train": {
        "epochs": 5,
        "batch_size": 10,
        "lr": 0.1,
        "model_seed": 7,
        "loader": "dataloader",
        "num_workers": 0,
    },
    "timing": {"mimic_post_prints": False},
}
SCHEDULE = Schedule(
    protocol_steps=30, warmup_steps=2, rounds=4, steps_per_window=3, switch_steps=1
)


def trained(devices):
    data = make_dataset(20, 60, 10, seed=0)
    trainers = {
        d["name"]: build_trainer(d, SETTINGS, data, build_threads=1) for d in devices
    }
    records = run_rounds(trainers, SCHEDULE, random.Random(0))
    return {
        name: {k: v.cpu() for k, v in t.model.state_dict().items()}
        for name, t in trainers.items()
    }, records


@pytest.mark.parametrize("accelerator", ACCELERATORS or ["none"])
def test_interleaving_with_an_accelerator(accelerator):
    cpu, acc = {"name": "cpu", "threads": 1}, {"name": accelerator, "threads": 1}
    together, records = trained([cpu, acc])
    alone, _ = trained([acc])
    for key, value in together[accelerator].items():
        torch.testing.assert_close(value, alone[accelerator][key], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(
            value, together["cpu"][key], rtol=1e-4, atol=1e-5
        )  # same data, same steps
    assert {r["device"] for r in records if r["kind"] == "timed"} == {
        "cpu",
        accelerator,
    }
    assert all(r["step_s"] > 0 for r in records)
