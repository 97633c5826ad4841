"""Interleaving the CPU with an accelerator (CUDA or MPS) in one process trains each
device's model as it would train alone, and the two agree. Skipped on a machine
without an accelerator; there, tests/test_timing.py checks the same loop with the
CPU's two devices (one thread and all cores)."""

import pytest
import torch

from interleaving import trained
from sweeplib.devices import available_accelerators
from sweeplib.schedule import Schedule

ACCELERATORS = available_accelerators()
pytestmark = pytest.mark.skipif(
    not ACCELERATORS, reason="no CUDA or MPS device on this machine"
)

SCHEDULE = Schedule(
    protocol_steps=30, warmup_steps=2, rounds=4, steps_per_window=3, switch_steps=1
)


def weights(trainers) -> dict:
    return {
        name: {k: v.cpu() for k, v in t.model.state_dict().items()}
        for name, t in trainers.items()
    }


@pytest.mark.parametrize("accelerator", ACCELERATORS or ["none"])
def test_interleaving_with_an_accelerator(accelerator):
    cpu, acc = {"name": "cpu", "threads": 1}, {"name": accelerator, "threads": 1}
    trainers, records = trained([cpu, acc], SCHEDULE)
    together = weights(trainers)
    alone = weights(trained([acc], SCHEDULE)[0])
    for key, value in together[accelerator].items():
        torch.testing.assert_close(value, alone[accelerator][key], rtol=1e-6, atol=1e-7)
        # same data, same steps
        torch.testing.assert_close(value, together["cpu"][key], rtol=1e-4, atol=1e-5)
    assert {r["device"] for r in records if r["kind"] == "timed"} == {
        "cpu",
        accelerator,
    }
    assert all(r["step_s"] > 0 for r in records)
