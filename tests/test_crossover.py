"""Crossovers stated no more sharply than the intervals allow."""

import math

import numpy as np
import pytest

from sweeplib.analyse import crossover as cx
from sweeplib.common.sizes import params_of_scale

SCALES = np.array([1, 2, 3, 4, 5])
PARAMS = np.array([params_of_scale(s) for s in SCALES])


def crossings(speedup, low, high, replicates=None):
    reps = np.tile(speedup, (200, 1)) if replicates is None else replicates
    return cx.crossings(
        SCALES, PARAMS, np.array(speedup), np.array(low), np.array(high), reps, 0.95
    )


def test_crossing_by_hand():
    # Speedup 0.5 at 1e6 and 2.0 at 4e6: the line in (log p, log s) meets 1 halfway, at
    # 2e6.
    assert cx.interpolate(1e6, 0.5, 4e6, 2.0) == pytest.approx(2e6)


def test_neighbours_on_either_side_give_a_point_with_an_interval():
    speedup = [0.5, 0.7, 1.4, 2.0, 3.0]
    rng = np.random.default_rng(0)
    reps = np.array(speedup) * np.exp(rng.normal(0, 0.05, (400, 5)))
    (c,) = crossings(
        speedup, [s * 0.9 for s in speedup], [s * 1.1 for s in speedup], reps
    )
    assert (
        c.kind == "point" and c.direction == "overtakes" and c.between_scales == (2, 3)
    )
    assert c.params == pytest.approx(cx.interpolate(PARAMS[1], 0.7, PARAMS[2], 1.4))
    assert PARAMS[1] <= c.low_params <= c.params <= c.high_params <= PARAMS[2]
    assert c.share > 0.9


def test_sizes_level_with_one_give_a_range_not_a_point():
    speedup = [0.5, 0.95, 1.05, 2.0, 3.0]
    low = [0.45, 0.85, 0.9, 1.8, 2.7]  # scales 2 and 3 contain 1
    high = [0.55, 1.05, 1.2, 2.2, 3.3]
    (c,) = crossings(speedup, low, high)
    assert c.kind == "range" and c.level_scales == [2, 3] and c.between_scales == (1, 4)
    assert (c.low_params, c.high_params) == (PARAMS[0], PARAMS[3]) and math.isnan(
        c.params
    )


def test_level_at_either_end_leaves_the_crossing_open_there():
    (c,) = crossings(
        [1.0, 1.02, 1.5, 2.0, 2.5],
        [0.9, 0.95, 1.3, 1.8, 2.3],
        [1.1, 1.1, 1.7, 2.2, 2.7],
    )
    assert (
        c.kind == "open_below"
        and c.high_params == PARAMS[2]
        and c.level_scales == [1, 2]
    )
    (c,) = crossings(
        [0.3, 0.5, 0.8, 0.97, 1.02],
        [0.25, 0.45, 0.7, 0.9, 0.95],
        [0.35, 0.55, 0.9, 1.05, 1.1],
    )
    assert (
        c.kind == "open_above"
        and c.low_params == PARAMS[2]
        and c.level_scales == [4, 5]
    )


def test_every_change_of_side_is_reported():
    speedup = [0.5, 2.0, 0.5, 2.0, 3.0]
    found = crossings(speedup, [s * 0.9 for s in speedup], [s * 1.1 for s in speedup])
    assert [c.direction for c in found] == ["overtakes", "falls_behind", "overtakes"]


def test_a_sweep_that_never_crosses_names_the_winner():
    assert cx.winner_throughout([1.2, 3.0], [1.4, 3.5]) == "device"
    assert cx.winner_throughout([0.2, 0.5], [0.3, 0.9]) == "baseline"
    assert cx.winner_throughout([0.2, 0.9], [0.3, 1.1]) is None
    assert (
        crossings([2, 3, 4, 5, 6], [1.5, 2.5, 3.5, 4.5, 5.5], [2.5, 3.5, 4.5, 5.5, 6.5])
        == []
    )


def test_the_sizes_beyond_a_crossing_that_are_not_clearly_faster_are_named():
    # Faster from scale 3 on, except at 4, where the interval contains 1 (the docs
    # example's scale 3 at 0.88x [0.81, 1.10] is such a size).
    (c,) = crossings(
        [0.5, 0.7, 1.4, 1.05, 2.0],
        [0.45, 0.6, 1.2, 0.9, 1.8],
        [0.55, 0.8, 1.6, 1.2, 2.2],
    )
    assert c.kind == "point" and c.between_scales == (2, 3) and c.then_level == [4]
    # With a second crossing, each is followed only up to the next: faster from 2,
    # level at 3, faster at 4, slower at 5.
    first, second = crossings(
        [0.5, 2.0, 1.0, 2.2, 0.5],
        [0.45, 1.8, 0.9, 2.0, 0.45],
        [0.55, 2.2, 1.1, 2.4, 0.55],
    )
    assert (first.direction, first.then_level) == ("overtakes", [3])
    assert (second.direction, second.between_scales, second.then_level) == (
        "falls_behind",
        (4, 5),
        [],
    )
