"""The timed loop: which steps are timed, and that interleaving drives each device's
model exactly as if it trained alone."""

import random
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from interleaving import trained, trainer
from sweeplib.measure.checkpoint import load_checkpoint
from sweeplib.measure.data import make_dataset
from sweeplib.measure.timing import Trainer, run_rounds, time_calls
from sweeplib.measure.training import save_outputs
from sweeplib.plan.schedule import Schedule, protocol_steps
from synthetic import ClockedSteps, clocked_rounds


def test_schedule_counts_windows_and_steps():
    s = Schedule(
        protocol_steps=1000,
        warmup_steps=3,
        rounds=5,
        steps_per_window=10,
        switch_steps=1,
    )
    assert (s.window_steps, s.steps_per_device, s.capped) == (10, 3 + 5 * 11, True)


def test_schedule_all_spreads_the_protocol_over_the_rounds():
    s = Schedule(
        protocol_steps=1000,
        warmup_steps=3,
        rounds=10,
        steps_per_window=None,
        switch_steps=1,
    )
    # (1000 - 3) // 10 = 99 steps per round, one of them the untimed switch step.
    assert (s.window_steps, s.steps_per_device) == (98, 3 + 10 * 99)
    assert s.capped  # 7 steps of the protocol are left over after 10 equal rounds


def test_schedule_refuses_too_few_steps():
    with pytest.raises(
        ValueError, match=r"must fit in the 20-step protocol.*here 2 \+ 3 x \(1 \+ 6\)"
    ):
        Schedule(
            protocol_steps=20,
            warmup_steps=2,
            rounds=3,
            steps_per_window=6,
            switch_steps=1,
        )
    with pytest.raises(ValueError, match="at least one timed step"):
        Schedule(
            protocol_steps=20,
            warmup_steps=2,
            rounds=10,
            steps_per_window=None,
            switch_steps=1,
        )


def test_protocol_steps_count_a_short_last_batch():
    assert protocol_steps(epochs=10, n_train=1000, batch_size=10) == 1000
    assert protocol_steps(epochs=2, n_train=95, batch_size=10) == 20


DEVICES = [{"name": "cpu1", "threads": 1}, {"name": "cpu", "threads": 2}]


def test_interleaving_trains_each_device_as_if_it_ran_alone():
    # 60 samples / batch 10 = 6 batches per epoch: the rounds cross epoch boundaries.
    schedule = Schedule(
        protocol_steps=30, warmup_steps=2, rounds=4, steps_per_window=3, switch_steps=1
    )
    together, records = trained(DEVICES, schedule)
    for device in DEVICES:
        alone, alone_records = trained([device], schedule)
        name = device["name"]
        for (key, a), b in zip(
            together[name].model.state_dict().items(),
            alone[name].model.state_dict().values(),
        ):
            assert torch.equal(a, b), f"{name}: {key} differs after interleaving"
        mine = [r for r in records if r["device"] == name]
        assert [r["loss"] for r in mine] == [r["loss"] for r in alone_records]
        assert [r["step"] for r in mine] == list(range(schedule.steps_per_device))
        assert {r["threads"] for r in mine} == {device["threads"]}


def test_rounds_give_every_device_one_window_in_a_shuffled_order():
    schedule = Schedule(
        protocol_steps=100, warmup_steps=1, rounds=8, steps_per_window=2, switch_steps=1
    )
    _, records = trained(DEVICES, schedule, seed=3)
    kinds = [r["kind"] for r in records]
    assert (
        kinds.count("warmup") == 2
        and kinds.count("switch") == 2 * 8
        and kinds.count("timed") == 2 * 8 * 2
    )
    orders = []
    for r in range(8):
        in_round = [x for x in records if x["round"] == r]
        # Each window is a switch step, then its timed steps, all of one device.
        assert [x["kind"] for x in in_round] == ["switch", "timed", "timed"] * 2
        orders.append(tuple(dict.fromkeys(x["device"] for x in in_round)))
        assert sorted(orders[-1]) == ["cpu", "cpu1"]
        assert [x["slot"] for x in in_round] == [0, 0, 0, 1, 1, 1]
    assert len(set(orders)) == 2  # both orders occur: the order is shuffled, not fixed


class StubDevice:
    """Counts synchronisations and makes each one take a known minimum time."""

    def __init__(self, delay):
        self.calls = 0
        self.delay = delay

    def __call__(self):
        self.calls += 1
        time.sleep(self.delay)


def test_every_step_waits_for_the_device_inside_the_timed_region():
    data = make_dataset(20, 40, 10, seed=0)
    ref = trainer(DEVICES[0], data)
    sync = StubDevice(delay=0.005)
    stubbed = Trainer(
        "cpu1", ref.model, ref.optimizer, ref.loader, "cpu", sync, threads=1
    )
    schedule = Schedule(
        protocol_steps=20, warmup_steps=1, rounds=2, steps_per_window=2, switch_steps=1
    )
    records = run_rounds({"cpu1": stubbed}, schedule, random.Random(0))
    assert sync.calls == len(records) == 1 + 2 * 3
    # a step cannot be shorter than the sync it contains
    assert min(r["step_s"] for r in records) >= 0.005


def test_post_prints_only_when_asked(capsys):
    data = make_dataset(20, 40, 10, seed=0)
    schedule = Schedule(
        protocol_steps=8, warmup_steps=0, rounds=1, steps_per_window=4, switch_steps=0
    )
    for mimic, expected in ((True, 4), (False, 0)):
        run_rounds(
            {"cpu1": trainer(DEVICES[0], data, post_prints=mimic)},
            schedule,
            random.Random(0),
        )
        out = capsys.readouterr().out
        assert out.count("Train Loss:") == expected
        if mimic:
            assert "Epoch: 01/05 | Batch: 01/04 | Train Loss: " in out


class QueuedDevice:
    """A device that queues work: each call adds ``work`` seconds to the queue at
    once; synchronising waits for the queue and costs ``overhead`` seconds more."""

    def __init__(self, work, overhead):
        self.work, self.overhead, self.queued = work, overhead, 0.0

    def call(self):
        self.queued += self.work

    def sync(self):
        time.sleep(self.queued + self.overhead)
        self.queued = 0.0


def test_a_probe_repeats_calls_until_the_synchronisation_no_longer_counts():
    # 1 ms of work per call, 3 ms to synchronise: timing one call per sync reads 4x
    # the work; repeating calls until a sample lasts 50 ms reads the work itself.
    device = QueuedDevice(work=1e-3, overhead=3e-3)
    times, calls = time_calls(device.call, device.sync, repeats=3, min_seconds=0.05)
    assert calls >= 32
    assert 0.95 <= np.median(times) / device.work <= 1.25
    single, one = time_calls(device.call, device.sync, repeats=3)
    assert one == 1 and np.median(single) / device.work >= 3.5


def test_an_accelerators_untimed_steps_last_their_least_time(monkeypatch):
    now = {"now": 0.0}
    trainers = {
        "cpu": ClockedSteps("cpu", accelerator=False, now=now),
        "cuda": ClockedSteps("cuda", accelerator=True, now=now),
    }
    records, schedule = clocked_rounds(monkeypatch, trainers, now)

    def count(device, kind):
        return [r for r in records if r["device"] == device and r["kind"] == kind]

    # The CPU keeps the counts; the accelerator steps on until the time has passed.
    assert len(count("cpu", "warmup")) == 1 and len(count("cpu", "switch")) == 3
    assert len(count("cpu", "timed")) == len(count("cuda", "timed")) == 6
    assert len(count("cuda", "warmup")) >= 0.05 / 0.002 * 0.8
    per_round = [
        sum(r["step_s"] for r in count("cuda", "switch") if r["round"] == k)
        for k in range(3)
    ]
    assert min(per_round) >= 0.02
    # The steps beyond the count are rehearsals: both devices trained the same steps.
    trained = {
        d: sum(r["trains"] for r in records if r["device"] == d) for d in trainers
    }
    assert trained == {"cpu": schedule.steps_per_device, "cuda": 1 + 3 * (1 + 2)}
    assert trained["cuda"] == schedule.steps_per_device


class AsOnAnAccelerator(Schedule):
    """A schedule whose least times hold on the CPU too, as on a fast GPU: the CPU's
    untimed steps then run on well past their count."""

    def min_seconds(self, kind, accelerator):
        return super().min_seconds(kind, True)


def plain_and_rehearsing(rounds: int, warmup_s: float) -> dict[str, Schedule]:
    """One schedule kept to its counts, and the same one whose untimed steps last
    ``warmup_s`` and 0.01 s after a switch, as on a fast GPU (so it rehearses)."""
    counts = dict(
        protocol_steps=30,
        warmup_steps=2,
        rounds=rounds,
        steps_per_window=2,
        switch_steps=1,
    )
    least = dict(accelerator_warmup_s=warmup_s, accelerator_switch_s=0.01)
    return {
        "plain": Schedule(**counts),
        "fast": AsOnAnAccelerator(**counts, **least),
    }


def test_an_accelerator_that_rehearses_trains_what_its_counted_steps_alone_give():
    schedules = plain_and_rehearsing(rounds=3, warmup_s=0.05)
    data = make_dataset(20, 60, 10, seed=0)
    trainers = {name: trainer(DEVICES[0], data) for name in schedules}
    records = {
        name: run_rounds({name: trainers[name]}, schedules[name], random.Random(0))
        for name in schedules
    }
    assert len(records["fast"]) > 2 * len(records["plain"])  # it did rehearse
    plain, fast = trainers["plain"], trainers["fast"]
    for key, value in plain.model.state_dict().items():
        assert torch.equal(value, fast.model.state_dict()[key]), key
    assert plain.steps == fast.steps == schedules["plain"].steps_per_device
    counted = {
        name: [r["loss"] for r in rows if r["trains"]] for name, rows in records.items()
    }
    assert counted["fast"] == counted["plain"]  # the same batches, in the same order


def test_each_checkpoint_records_the_same_trained_steps(tmp_path):
    # One device rehearses to last its least times, the other does not: their saved
    # models trained the same number of steps, and their checkpoints say so.
    schedules = plain_and_rehearsing(rounds=2, warmup_s=0.03)
    data = make_dataset(20, 60, 10, seed=0)
    run = SimpleNamespace(
        training=SimpleNamespace(loader="tensor", batch_size=10),
        key="k",
        scale=1,
        to_json=lambda: "{}",
    )
    saved = {}
    for name, schedule in schedules.items():
        t = trainer(DEVICES[0], data)
        run_rounds({name: t}, schedule, random.Random(0))
        paths = {p: tmp_path / f"{name}-{p}.pt" for p in ("checkpoint", "predictions")}
        save_outputs(t, data, paths, run)
        saved[name] = load_checkpoint(paths["checkpoint"])
    steps = {name: meta["trained_steps"] for name, (_, meta) in saved.items()}
    assert steps == {"plain": 8, "fast": 8}
    for key, value in saved["plain"][0].state_dict().items():
        assert torch.equal(value, saved["fast"][0].state_dict()[key]), key
