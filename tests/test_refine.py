"""The refinement rules on synthetic speedup curves: a crossing between sizes, one open
below or above, several crossings, and noise that never settles."""

import dataclasses
import math

import numpy as np

from sweeplib.analyse import crossover as cx
from sweeplib.common.sizes import ModelSizes, canonical_scale
from sweeplib.plan import refine

SETTINGS = refine.Settings(
    enabled=True,
    minutes=3.0,
    max_sizes=6,
    max_passes=4,
    seconds=20.0,
    bracket_ratio=1.25,
    point_ratio=1.5,
    min_scale=0.05,
    max_scale=200,
    max_waves=2,
    wave_if_wider=1.25,
)


def curve(points, spread=0.1):
    """Sizes and crossings of a curve given as (scale, speedup) pairs, each speedup's
    interval +-``spread`` of it (a pair (low, high) instead of a speedup gives its
    interval)."""
    scales = [canonical_scale(s) for s, _ in points]
    params = np.array([ModelSizes.for_scale(s).num_params for s in scales], float)
    mid = np.array([v if np.isscalar(v) else math.sqrt(v[0] * v[1]) for _, v in points])
    low = np.array([v * (1 - spread) if np.isscalar(v) else v[0] for _, v in points])
    high = np.array([v * (1 + spread) if np.isscalar(v) else v[1] for _, v in points])
    rng = np.random.default_rng(0)
    reps = mid * np.exp(rng.normal(0, spread / 2, (400, len(mid))))
    found = cx.crossings(scales, params, mid, low, high, reps, 0.95)
    sizes = [
        refine.Size(s, p, lo, hi) for s, p, lo, hi in zip(scales, params, low, high)
    ]
    return sizes, [vars(c) for c in found]


def proposed(points, **kw):
    sizes, found = curve(points, **kw)
    return [p.scale for p in refine.proposals(sizes, found, SETTINGS)]


def test_a_crossing_between_distant_sizes_adds_their_geometric_middle():
    # Scales 1 and 4 (90,902 and 1,443,602 parameters): the middle, 362,244
    # parameters, is scale 2.0 (the smooth inverse of the parameter count).
    sizes, found = curve([(1, 0.5), (4, 2.0), (10, 4.0)], spread=0.4)
    assert [c["kind"] for c in found] == ["point"]
    (p,) = refine.proposals(sizes, found, SETTINGS)
    assert p.scale == 2 and "geometric middle of scales 1 and 4" in p.reason
    # Neighbours at most 1.25x apart in parameters settle it, however wide the
    # interval: 2 and 2.2 are 1.21x apart.
    assert proposed([(2, 0.5), (2.2, 2.0)], spread=0.4) == []


def test_a_narrow_crossing_point_is_left_alone():
    sizes, found = curve([(1, 0.9), (4, 1.1), (10, 3.0)], spread=0.02)
    (c,) = found
    assert c["kind"] == "point" and c["high_params"] / c["low_params"] <= 1.5
    assert refine.proposals(sizes, found, SETTINGS) == []


def test_a_range_adds_the_middle_of_its_widest_gap():
    # Level at 3 and 4 between slower 2 and faster 10: the widest gap is 4 to 10. By
    # hand: sqrt(1,443,602 x 9,009,002) = 3,606,302 parameters, where
    # 90000 s^2 + 900 s + 2 puts s = 6.325, rounded to 6.33.
    props = proposed([(2, 0.5), (3, (0.9, 1.1)), (4, (0.95, 1.2)), (10, 3.0)])
    assert props == [6.33]


def test_faster_already_at_the_smallest_size_halves_it_down_to_the_floor():
    assert proposed([(1, 1.5), (2, 2.0), (5, 3.0)]) == [0.5]
    assert proposed([(0.08, 1.5), (1, 2.0)]) == []  # 0.04 is below the floor


def test_not_faster_at_the_largest_size_doubles_it_up_to_the_ceiling():
    assert proposed([(1, 0.3), (5, 0.5), (10, 0.8)]) == [20]
    assert proposed([(50, 0.3), (150, 0.5)]) == []  # 300 is above the ceiling


def test_a_level_stretch_is_refined_where_it_meets_the_decisive_sizes():
    # Level at 1 and 2, faster from 5 on: the stretch ends between 2 and 5.
    sizes, found = curve([(1, (0.9, 1.1)), (2, (0.95, 1.1)), (5, 2.0), (10, 3.0)])
    assert [c["kind"] for c in found] == ["open_below"]
    (p,) = refine.proposals(sizes, found, SETTINGS)
    assert 2 < p.scale < 5 and "indistinguishable below" in p.reason


def test_several_crossings_are_each_refined():
    props = proposed([(1, 0.5), (4, 2.0), (10, 0.5), (50, 2.0)], spread=0.3)
    assert len(props) == 3 and all(
        a < p < b for p, (a, b) in zip(sorted(props), [(1, 4), (4, 10), (10, 50)])
    )


def test_noise_that_never_settles_stops_at_the_budget():
    # Every new size lands on the other side of 1 from its smaller neighbour, with a
    # wide interval: new crossings keep appearing, so the rules always propose more.
    # Refinement must stop by its limits anyway.
    points = [(1, 0.5), (10, 2.0)]
    history, stop, passes = [], None, 0
    while stop is None:
        sizes, found = curve(points, spread=0.6)
        props = refine.proposals(sizes, found, SETTINGS)
        assert props, "the rules always have more to propose on this curve"
        added = [a for h in history for a in h]
        chosen, stop = refine.decide(
            props,
            [],
            {},
            {"new": SETTINGS.seconds},
            SETTINGS.seconds * len(added),
            len(added),
            passes,
            SETTINGS,
        )
        history.append(chosen)
        for p in chosen:
            below = max((s, v) for s, v in points if s < p.scale)
            points = sorted([*points, (p.scale, 2.0 if below[1] < 1 else 0.5)])
        passes += 1
        assert passes <= SETTINGS.max_passes + 1
    assert sum(len(h) for h in history) <= SETTINGS.max_sizes
    assert "budget" in stop or "passes" in stop


def test_budget_left_goes_to_the_widest_deciding_interval():
    sizes, found = curve([(1, 0.5), (2, 2.0), (10, (1.5, 4.0))])
    candidates = refine.deciding(sizes, found)
    assert [z.scale for z in candidates] == [1, 2, 10]
    costs = {"new": 20.0, ("", 1): 5.0, ("", 2): 5.0, ("", 10): 30.0}
    chosen, stop = refine.decide([], candidates, {}, costs, 0.0, 0, 0, SETTINGS)
    # Scale 10's interval (2.67x) is the widest; scales 1 and 2 (1.22x) are narrow.
    assert [(p.scale, p.wave) for p in chosen] == [(10, 1)] and stop is None
    # Its batches are capped, and the budget counts what was spent.
    assert (
        refine.decide([], candidates, {("", 10): 2}, costs, 0.0, 0, 0, SETTINGS)[0]
        == []
    )
    # Where the time left cannot buy the batch, the stop says what it would take.
    chosen, stop = refine.decide([], candidates, {}, costs, 170.0, 0, 0, SETTINGS)
    assert chosen == [] and stop.startswith("settled")
    assert (
        "another wave of processes at scale 10, whose interval [1.50, 4.00] spans "
        "2.67x, " in stop
    )
    assert "would take 30 s (10 s of refine.minutes are left)" in stop


# --- one pass over several curves (refine_pass.py)
# ----------------------------------------


def curve_windows(batch_size: int, precision: str, scales, seed: int):
    """A curve's windows as the aggregation gives them: the tiny sweep's devices,
    its series axes, a run key per scale and curve, and each process's wall time."""
    from synthetic import windows

    w = windows(["cpu1", "cpu"], scales, noise=0.3, seed=seed)
    keys = [f"{batch_size:04d}{precision[:2]}{s:06.2f}" for s in w["scale"]]
    return w.assign(
        batch_size=batch_size, precision=precision, run_key=keys, process_wall_s=5.0
    )


def added_to(decision: dict, batch_size: int) -> list[tuple]:
    return sorted(
        (a["scale"], a["wave"], a["precision"])
        for a in decision["added"]
        if a["batch_size"] == batch_size
    )


def test_each_curve_is_refined_apart_with_a_budget_of_its_own():
    import pandas as pd
    from report_helpers import ANALYSIS

    from sweeplib.analyse.refine_pass import decide_pass

    one_size = dataclasses.replace(SETTINGS, max_sizes=1)
    # Noisy windows (30%): the statements are uncertain, so each curve proposes
    # sizes and more processes.
    alone = curve_windows(10, "float32", [0.5, 1, 2], seed=1)
    other = curve_windows(100, "bfloat16", [0.5, 1, 2, 4], seed=2)
    by_itself = decide_pass(alone, "cpu1", ANALYSIS, one_size, None, 0)
    together = decide_pass(
        pd.concat([alone, other], ignore_index=True),
        "cpu1",
        ANALYSIS,
        one_size,
        None,
        0,
    )
    # Another curve changes nothing of this one's decision; each spends its own
    # budget (one new size each, then batches of processes), and names its curve.
    assert added_to(together, 10) == added_to(by_itself, 10)
    assert (1.41, 0, "float32") in added_to(by_itself, 10)
    for batch_size in (10, 100):
        new = [a for a in added_to(together, batch_size) if a[1] == 0]
        assert len(new) == 1
    assert {a["curve"] for a in together["added"]} == {
        "batch 10, float32",
        "batch 100, bfloat16",
    }
    assert together["stop"] is None
