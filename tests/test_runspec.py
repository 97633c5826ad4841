"""A run, typed: it travels as JSON and comes back the same, its key follows every
field, it counts its steps in one place, and the config's overridable settings are
the schema's."""

import dataclasses

from sweeplib.plan.config import load_schema, overridable, scale_sections
from sweeplib.plan.runspec import RunSpec
from synthetic import run_spec
from workflow_helpers import SCHEMA


def test_a_run_comes_back_from_its_json_the_same():
    spec = run_spec(scale=3, pairing="separate", steps_per_window="all")
    again = RunSpec.from_json(spec.to_json())
    assert again == spec and again.key == spec.key
    assert again.to_json() == spec.to_json()


def test_the_key_follows_every_field_that_determines_a_run():
    spec = run_spec()
    changed = [
        dataclasses.replace(spec, scale=2),
        dataclasses.replace(spec, torch="2.14.0"),
        dataclasses.replace(spec, code="other"),
        spec.with_pairing("separate"),
        dataclasses.replace(spec, training=dataclasses.replace(spec.training, lr=0.1)),
        dataclasses.replace(
            spec, timing=dataclasses.replace(spec.timing, accelerator_switch_s=0.05)
        ),
        dataclasses.replace(spec, data=dataclasses.replace(spec.data, seed=1)),
        dataclasses.replace(
            spec,
            devices=(
                spec.devices[0],
                dataclasses.replace(spec.devices[1], threads=3),
            ),
        ),
    ]
    keys = {c.key for c in changed}
    assert len(keys) == len(changed) and spec.key not in keys


def test_the_schedule_counts_the_protocol_from_the_run():
    # 1 epoch of 1,000 samples in batches of 10: 100 steps; "all" spreads the 99 after
    # the warm-up step over 2 rounds of 49, one of them the switch step.
    spec = run_spec(steps_per_window="all")
    schedule = spec.schedule()
    assert schedule.protocol_steps == 100 and schedule.window_steps == 48
    assert schedule.accelerator_switch_s == spec.timing.accelerator_switch_s


def test_a_scale_entry_overrides_its_section_and_nothing_else():
    config = {
        "train": {"epochs": 10, "lr": 0.5},
        "timing": {"rounds": 8, "processes": 4},
    }
    sections = scale_sections(config, {"scale": 50, "lr": 0.1, "rounds": 4})
    assert sections == {
        "train": {"epochs": 10, "lr": 0.1},
        "timing": {"rounds": 4, "processes": 4},
    }
    assert config["train"]["lr"] == 0.5  # the global section is left as it was


def test_what_a_scale_may_override_is_read_from_the_schema():
    found = overridable(load_schema(SCHEMA))
    assert found["epochs"] == "train" and found["lr"] == "train"
    assert found["rounds"] == "timing" and found["switch_steps"] == "timing"
    assert "scale" not in found and "model_seed" not in found
