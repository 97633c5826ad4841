import time

import pytest
import torch

from sweeplib.data import make_dataset, make_loader
from sweeplib.model import NeuralNetwork
from sweeplib.sizes import ModelSizes
from sweeplib.timing import TimingPlan, TrainResult, quantile, seed_comparable_total, summarise, train_timed


def test_plan_caps_and_windows():
    plan = TimingPlan(protocol_steps=1000, warmup_steps=3, repeats=5, steps_per_repeat=20)
    assert (plan.timed_steps, plan.total_steps, plan.capped) == (100, 103, True)
    assert [plan.repeat_of(i) for i in (0, 19, 20, 99)] == [0, 0, 1, 4]


def test_plan_all_times_the_whole_protocol():
    plan = TimingPlan(protocol_steps=1000, warmup_steps=3, repeats=5, steps_per_repeat=None)
    assert (plan.timed_steps, plan.total_steps, plan.capped) == (997, 1000, False)
    counts = [sum(plan.repeat_of(i) == r for i in range(997)) for r in range(5)]
    assert counts == [200, 199, 200, 199, 199] and sum(counts) == 997


def test_plan_cap_larger_than_protocol_is_clamped():
    plan = TimingPlan(protocol_steps=20, warmup_steps=2, repeats=3, steps_per_repeat=50)
    assert plan.timed_steps == 18 and not plan.capped


def test_plan_refuses_fewer_steps_than_repeats():
    with pytest.raises(ValueError, match="fewer than one step"):
        TimingPlan(protocol_steps=5, warmup_steps=3, repeats=5, steps_per_repeat=1)


class StubDevice:
    """Counts synchronisations and makes each one take a known minimum time."""

    def __init__(self, delay):
        self.calls = 0
        self.delay = delay

    def __call__(self):
        self.calls += 1
        time.sleep(self.delay)


def small_run(plan, epochs, sync, mimic=False, log=None):
    data = make_dataset(8, 40, 10, seed=0)
    torch.manual_seed(0)
    model = NeuralNetwork(ModelSizes(8, 6, 4))
    train = make_loader(data["X_train"], data["Y_train"], kind="tensor", batch_size=10, shuffle=True)
    test = make_loader(data["X_test"], data["Y_test"], kind="tensor", batch_size=10, shuffle=False)
    return train_timed(model, torch.optim.SGD(model.parameters(), lr=0.1), train, test, data["Y_test"], epochs=epochs,
                       plan=plan, device="cpu", sync=sync, mimic_seed_prints=mimic, log=log or (lambda s: None))


def test_every_step_waits_for_the_device_inside_the_timed_region():
    sync = StubDevice(delay=0.005)
    plan = TimingPlan(protocol_steps=12, warmup_steps=1, repeats=2, steps_per_repeat=3)  # 4 batches x 3 epochs
    result = small_run(plan, epochs=3, sync=sync)
    assert len(result.steps) == 7
    assert [s["repeat"] for s in result.steps] == [-1, 0, 0, 0, 1, 1, 1]
    # A step cannot be shorter than the synchronisation it contains.
    assert min(s["step_s"] for s in result.steps) >= 0.005
    # Two epochs ran: epoch 1 ends with its own evaluation, epoch 2 is cut after 3 of its 4 steps and evaluated once.
    assert [e["epoch"] for e in result.evals] == [0, 1]
    assert [e["complete_epoch"] for e in result.evals] == [True, False]
    # One sync per step and two per evaluation pass (before and after).
    assert sync.calls == 7 + 2 * 2
    assert result.test_logits.shape == (10, 2)


def test_full_protocol_evaluates_after_every_epoch():
    plan = TimingPlan(protocol_steps=8, warmup_steps=1, repeats=7, steps_per_repeat=None)
    result = small_run(plan, epochs=2, sync=lambda: None)
    assert len(result.steps) == 8 and result.epochs_run == 2
    assert [e["complete_epoch"] for e in result.evals] == [True, True]


def test_seed_prints_only_when_asked():
    lines = []
    plan = TimingPlan(protocol_steps=4, warmup_steps=0, repeats=1, steps_per_repeat=None)
    small_run(plan, epochs=1, sync=lambda: None, mimic=True, log=lines.append)
    assert sum("Train Loss" in line for line in lines) == 4
    lines.clear()
    small_run(plan, epochs=1, sync=lambda: None, mimic=False, log=lines.append)
    assert not any("Train Loss" in line for line in lines)


def test_extrapolated_total_by_hand():
    steps = [{"repeat": -1, "step_s": 0.5}, {"repeat": 0, "step_s": 0.1}, {"repeat": 0, "step_s": 0.3}, {"repeat": 1, "step_s": 0.2}]
    evals = [{"eval_s": 1.0}, {"eval_s": 3.0}]
    result = TrainResult(steps=steps, evals=evals, test_logits=None, epochs_run=1)
    plan = TimingPlan(protocol_steps=100, warmup_steps=1, repeats=2, steps_per_repeat=2)
    total, extrapolated = seed_comparable_total(result, plan, epochs=10)
    # 0.5 (warm-up) + 99 x 0.2 (median step) + 10 x 2.0 (median evaluation)
    assert extrapolated and total == pytest.approx(0.5 + 99 * 0.2 + 10 * 2.0)
    full = TimingPlan(protocol_steps=4, warmup_steps=1, repeats=2, steps_per_repeat=None)
    assert seed_comparable_total(result, full, epochs=2) == (pytest.approx(0.5 + 0.6 + 4.0), False)


def test_summary_quantiles_match_numpy():
    import numpy as np

    xs = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0]
    s = summarise(xs)
    assert s["median"] == 3.5 and s["min"] == 1.0 and s["max"] == 10.0 and s["n"] == 6
    assert quantile(xs, 0.25) == pytest.approx(np.percentile(xs, 25))
    assert quantile(xs, 0.75) == pytest.approx(np.percentile(xs, 75))
