"""From windows to what the report says, on hand-made sweeps with known answers."""

import pandas as pd
import pytest

from sweeplib.analyse.analysis import analyse, cell_table, overlaps, timed_spans
from synthetic import hardware, no_spans, true_crossover, true_time, windows

SETTINGS = {
    "bootstrap": 400,
    "confidence": 0.95,
    "spread_flag": 0.1,
    "model_miss_flag": 0.25,
    "implausible_margin": 3.0,
    "seed": 0,
}


def analysed(devices, scales, baseline, **kwargs):
    w = windows(devices, scales, **kwargs)
    cells = cell_table(w, hardware(devices), 0.1)
    table, summary = analyse(cells, w, baseline, SETTINGS, no_spans())
    return cells, table, summary


def test_cells_take_the_median_window_and_its_spread():
    w = windows(["cpu"], [5], processes=2, rounds=3, noise=0.0)
    cells = cell_table(w, hardware(["cpu"]), 0.1)
    (c,) = cells.itertuples()
    assert c.step_median_s == pytest.approx(true_time("cpu", 5))
    assert (c.windows, c.processes, c.iqr_rel, c.flagged) == (6, 2, 0.0, False)
    assert c.switch_ratio == pytest.approx(1.1)


def test_noisy_cells_are_flagged():
    noisy = cell_table(
        windows(["cpu"], [1, 2], noise=0.3, rounds=10), hardware(["cpu"]), 0.1
    )
    quiet = cell_table(
        windows(["cpu"], [1, 2], noise=0.01, rounds=10), hardware(["cpu"]), 0.1
    )
    assert noisy["flagged"].all() and not quiet["flagged"].any()


def test_a_synthetic_sweep_recovers_its_crossover():
    # The truth, 1.47M parameters, lies between scales 3 (speedup 0.66) and 5 (1.36).
    scales = [1, 2, 3, 5, 7, 10]
    cells, table, summary = analysed(["cpu", "cuda"], scales, "cpu", noise=0.01)
    crossings = summary["devices"]["cuda"]["crossings"]
    truth = true_crossover("cpu", "cuda")
    assert [c["kind"] for c in crossings] == ["point"]
    assert crossings[0]["params"] == pytest.approx(truth, rel=0.01)
    assert crossings[0]["low_params"] <= truth <= crossings[0]["high_params"]
    assert summary["devices"]["cuda"]["model_crossings"] == [
        pytest.approx(truth, rel=0.01)
    ]
    # Without a cache size, one line per device; the accelerator's small sizes are
    # overhead-bound.
    assert summary["fits"]["cuda"]["knee_params"] is None
    assert summary["fits"]["cuda"]["sizes"][0]["regime"] == "overhead"
    assert summary["fits"]["cuda"]["missed"] == []


def test_a_size_level_with_one_turns_the_point_into_a_range():
    # Scale 4 (speedup 0.98) cannot be told from 1: the crossing is only known to lie
    # between scales 3 and 5, and the range holds the truth.
    _, _, summary = analysed(["cpu", "cuda"], list(range(1, 11)), "cpu", noise=0.01)
    (c,) = summary["devices"]["cuda"]["crossings"]
    assert (
        c["kind"] == "range"
        and c["level_scales"] == [4]
        and c["between_scales"] == [3, 5]
    )
    assert c["low_params"] <= true_crossover("cpu", "cuda") <= c["high_params"]


def test_a_sweep_that_never_crosses():
    _, _, summary = analysed(["cpu", "cuda"], [20, 50, 100], "cpu", noise=0.01)
    assert summary["devices"]["cuda"]["crossings"] == []
    assert summary["devices"]["cuda"]["winner_throughout"] == "device"


def test_overlapping_timed_regions_are_found():
    spans = pd.DataFrame(
        {
            "job": ["a", "b", "c", "d"],
            "start": [0.0, 5.0, 5.5, 20.0],
            "end": [10.0, 6.0, 7.0, 21.0],
        }
    )
    found = overlaps(spans)
    assert [(o["first"], o["second"]) for o in found] == [("a", "b"), ("a", "c")]
    assert found[0]["seconds"] == 1.0
    assert (
        overlaps(
            pd.DataFrame({"job": ["a", "b"], "start": [0.0, 2.0], "end": [1.0, 3.0]})
        )
        == []
    )


NO_CHECKS = pd.DataFrame(columns=["scale", "started_at", "ended_at"])
NO_PROBES = pd.DataFrame(columns=["device", "started_at", "ended_at"])


def test_every_separate_process_is_a_timed_region_of_its_own():
    """Where a scale's devices ran in processes of their own, process 0 of one device
    and process 0 of the other are two processes: both are checked for overlaps."""
    w = windows(["cpu1", "cpu"], [50], processes=1, rounds=2, pairing="separate")
    starts = {"cpu1": (0.0, 10.0), "cpu": (5.0, 15.0)}  # the second began too early
    for d, (start, end) in starts.items():
        w.loc[w["device"] == d, ["started_at", "ended_at"]] = (start, end)
    spans = timed_spans(w, NO_CHECKS, NO_PROBES)
    assert sorted(spans["job"]) == [
        "scale 50, timing process 0 of cpu",
        "scale 50, timing process 0 of cpu1",
    ]
    (found,) = overlaps(spans)
    assert found["seconds"] == 5.0
    # Interleaved, one process holds both devices: one region, no overlap with itself.
    w = windows(["cpu1", "cpu"], [1], processes=1, rounds=2)
    w[["started_at", "ended_at"]] = (0.0, 10.0)
    spans = timed_spans(w, NO_CHECKS, NO_PROBES)
    assert list(spans["job"]) == ["scale 1, timing process 0"]
