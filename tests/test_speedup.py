"""Paired speedups and their intervals, checked by hand and against plain resampling."""

import math

import numpy as np
import pandas as pd
import pytest

from sweeplib.analyse import speedup as sp
from synthetic import windows


def frame(rows):
    cols = ["scale", "params", "device", "pairing", "process", "round", "step_median_s"]
    return pd.DataFrame(rows, columns=cols)


def test_round_ratio_is_the_baselines_window_over_the_devices():
    w = frame(
        [
            (1, 10, "cpu1", "interleaved", 0, 0, 4.0),
            (1, 10, "cpu", "interleaved", 0, 0, 2.0),
            (1, 10, "cpu1", "interleaved", 0, 1, 3.0),
            (1, 10, "cpu", "interleaved", 0, 1, 1.0),
        ]
    )
    r = sp.round_ratios(w, "cpu1")
    assert list(r["ratio"]) == [2.0, 3.0] and set(r["device"]) == {"cpu"}


def test_speedup_is_the_median_of_the_round_ratios():
    # Process 0 rounds give ratios 2, 3, 4; process 1 gives 5, 6, 7: the median of all
    # six is 4.5.
    rows = []
    for p, ratios in enumerate([(2, 3, 4), (5, 6, 7)]):
        for r, ratio in enumerate(ratios):
            rows += [
                (1, 10, "cpu1", "interleaved", p, r, float(ratio)),
                (1, 10, "cpu", "interleaved", p, r, 1.0),
            ]
    table, boots = sp.speedup_table(frame(rows), "cpu1", 500, 0.95, seed=0)
    row = table.iloc[0]
    assert row["speedup"] == 4.5 and row["rounds"] == 6 and row["processes"] == 2
    assert row["process_speedups"] == "3;6"
    assert row["ci_low"] <= 4.5 <= row["ci_high"] and boots["cpu"].shape == (500, 1)


def test_two_stage_resampling_draws_processes_then_rounds():
    # Two processes whose values never mix: a replicate draws whole processes, so its
    # pooled values come from one or both groups, with each group's values drawn with
    # replacement inside it.
    groups = [np.array([1.0, 1.0, 1.0]), np.array([10.0, 10.0])]
    picks = np.array([[0, 0], [1, 1], [0, 1]])
    values = sp.resample(groups, picks, np.random.default_rng(0))
    assert sorted(v for v in values[0] if not math.isnan(v)) == [1.0] * 6
    assert sorted(v for v in values[1] if not math.isnan(v)) == [10.0] * 4
    assert sorted(v for v in values[2] if not math.isnan(v)) == [1.0] * 3 + [10.0] * 2


def test_interval_widens_with_the_spread_between_processes():
    # Same rounds, but the processes disagree in the second case: the interval must
    # reflect it.
    agree = [np.array([1.0, 1.02, 0.98, 1.01]) for _ in range(3)]
    disagree = [agree[0] * 0.8, agree[1], agree[2] * 1.2]
    rng = np.random.default_rng(0)
    narrow = np.percentile(sp.paired_replicates(agree, 4000, rng), [2.5, 97.5])
    wide = np.percentile(sp.paired_replicates(disagree, 4000, rng), [2.5, 97.5])
    assert wide[1] - wide[0] > 5 * (narrow[1] - narrow[0])


def test_widening_corrects_the_bootstrap_for_few_processes():
    reps = np.array([0.5, 1.0, 2.0])
    # Three processes: log-distances stretched by sqrt(3/2).
    assert sp.widen(reps, 1.0, 3) == pytest.approx(
        [0.5 ** math.sqrt(1.5), 1.0, 2.0 ** math.sqrt(1.5)]
    )
    assert list(sp.widen(reps, 1.0, 1)) == list(reps)


def test_median_interval_by_hand():
    # n = 10: P(Binomial(10, 1/2) <= 1) = 11/1024, so [x(2), x(9)] covers 1 - 22/1024 =
    # 97.9% >= 95%, while [x(3), x(8)] covers 1 - 2 * 56/1024 = 89.1%.
    x = list(range(10, 0, -1))
    assert sp.median_interval(x, 0.95) == (2.0, 9.0)
    # n = 5: even [x(1), x(5)] covers only 93.75%; the full range is the best there is.
    assert sp.median_interval([5, 1, 4, 2, 3], 0.95) == (1.0, 5.0)


def test_a_disagreeing_process_is_reported_not_dropped():
    # The probe's scale-2 case: one process of several off by 40%, tight within itself.
    rng = np.random.default_rng(1)
    groups = {p: 1.08 * np.exp(rng.normal(0, 0.02, 10)) for p in range(4)}
    groups[2] = 0.61 * np.exp(rng.normal(0, 0.02, 10))
    (odd,) = sp.disagreeing(groups, 0.95)
    assert odd["process"] == 2 and odd["median"] == pytest.approx(0.61, rel=0.05)
    rows = [
        (2, 10, "cpu1", "interleaved", p, r, float(v))
        for p, vs in groups.items()
        for r, v in enumerate(vs)
    ]
    rows += [
        (2, 10, "cpu", "interleaved", p, r, 1.0)
        for p, vs in groups.items()
        for r, _ in enumerate(vs)
    ]
    table, _ = sp.speedup_table(frame(rows), "cpu1", 500, 0.95, seed=0)
    row = table.iloc[0]
    assert row["disagreeing"].startswith("process 2: 0.6")
    assert row["rounds"] == 40  # its rounds are kept
    assert row["ci_low"] < 0.9  # and the interval reaches toward it


def test_separate_scales_pair_processes_not_rounds():
    w = windows(
        ["cpu1", "cpu"],
        [5],
        processes=3,
        rounds=4,
        noise=0.01,
        pairing="separate",
        seed=2,
    )
    table, _ = sp.speedup_table(w, "cpu1", 500, 0.95, seed=0)
    row = table.iloc[0]
    b = w[w["device"] == "cpu1"]["step_median_s"].median()
    d = w[w["device"] == "cpu"]["step_median_s"].median()
    assert row["pairing"] == "separate" and row["speedup"] == pytest.approx(b / d)
    assert sp.round_ratios(w, "cpu1").empty  # nothing is paired by round


def reference_median_interval(values, confidence):
    """The interval as it was computed before (summing binomial coefficients for
    every k: some n^3.8), kept as the reference at small n."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    k = 1
    while (
        k < n
        and 1 - 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n >= confidence
    ):
        k += 1
    return float(x[k - 1]), float(x[n - k])


@pytest.mark.parametrize("exact_n", [1000, 0])
def test_the_median_interval_is_the_order_statistics_it_was_at_small_n(
    exact_n, monkeypatch
):
    # Both ways of summing the binomial: exact integers, and (with EXACT_N at 0)
    # the log space that larger n take.
    monkeypatch.setattr(sp, "EXACT_N", exact_n, raising=False)
    rng = np.random.default_rng(0)
    for n in [*range(1, 60), 99, 200, 333]:
        for confidence in (0.5, 0.75, 0.9, 0.95, 0.99, 0.999):
            values = rng.random(n)
            assert sp.median_interval(values, confidence) == (
                reference_median_interval(values, confidence)
            ), (n, confidence)


def test_the_median_interval_of_a_hundred_thousand_rounds_takes_well_under_a_second():
    import time

    values = np.random.default_rng(1).normal(size=100_000)
    start = time.perf_counter()
    low, high = sp.median_interval(values, 0.95)
    assert time.perf_counter() - start < 1.0
    # The normal median's 95% interval: +-1.96 * sqrt(pi / 2) / sqrt(n).
    half = 1.96 * math.sqrt(math.pi / 2) / math.sqrt(len(values))
    assert low < np.median(values) < high
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)


def test_rounds_that_pair_with_no_round_of_the_baseline_give_no_speedup():
    w = windows(["cpu1", "cpu"], [1, 2], rounds=3)
    # Scale 2's rounds of cpu were renumbered: none pairs with a round of cpu1.
    moved = (w["scale"] == 2) & (w["device"] == "cpu")
    w.loc[moved, "round"] += 1000
    table, boots = sp.speedup_table(w, "cpu1", 50, 0.95, 0)
    assert list(table["scale"]) == [1]
    assert boots["cpu"].shape == (50, 1)


def test_thousands_of_rounds_per_process_are_analysed_in_well_under_a_second():
    import time

    w = windows(["cpu1", "cpu"], [1], processes=2, rounds=5000)
    start = time.perf_counter()
    table, _ = sp.speedup_table(w, "cpu1", 200, 0.95, 0)
    assert time.perf_counter() - start < 2.0
    assert list(table["rounds"]) == [10_000]


def each_pool_disagreeing(groups, confidence):
    """``disagreeing`` as it was: the others' pool concatenated and sorted anew for
    each process."""
    out = []
    for p, values in groups.items():
        others = np.concatenate([[], *(v for q, v in groups.items() if q != p)])
        if len(others) < 2 or len(values) < 2:
            continue
        lo, hi = sp.median_interval(values, confidence)
        olo, ohi = sp.median_interval(others, confidence)
        if hi < olo or lo > ohi:
            out.append(
                {
                    "process": int(p),
                    "median": float(np.median(values)),
                    "others_median": float(np.median(others)),
                    "interval": [lo, hi],
                    "others_interval": [olo, ohi],
                }
            )
    return out


def test_the_others_intervals_read_off_one_pool_are_those_of_each_pool():
    rng = np.random.default_rng(0)
    reported = 0
    for _ in range(300):
        groups = {
            p: np.round(rng.lognormal(rng.normal(0, 0.5), 0.3, rng.integers(1, 15)), 1)
            for p in range(int(rng.integers(1, 8)))
        }
        for confidence in (0.5, 0.95):
            found = sp.disagreeing(groups, confidence)
            assert found == each_pool_disagreeing(groups, confidence), groups
            reported += len(found)
    assert reported > 50  # ties (values rounded) and disagreeing processes both met


def test_a_thousand_processes_are_compared_in_well_under_a_second():
    import time

    rng = np.random.default_rng(2)
    groups = {p: rng.lognormal(0, 0.1, 20) for p in range(1000)}
    start = time.perf_counter()
    sp.disagreeing(groups, 0.95)
    assert time.perf_counter() - start < 1.0  # each pool anew: some 8 s


@pytest.mark.parametrize("n", [1001, 1500, 2999, 5000])
def test_the_log_space_sums_agree_with_the_exact_ones_past_exact_n(n, monkeypatch):
    logged = sp.binomial_half_cdf(n)
    monkeypatch.setattr(sp, "EXACT_N", 10**6)
    exact = sp.binomial_half_cdf(n)
    shown = exact > 1e-300  # (both underflow alike below)
    assert np.allclose(logged[shown], exact[shown], rtol=1e-9, atol=0)
    for confidence in (0.5, 0.9, 0.95, 0.99, 0.999):
        monkeypatch.setattr(sp, "EXACT_N", 1000)
        k = sp.median_rank(n, confidence)
        monkeypatch.setattr(sp, "EXACT_N", 10**6)
        assert sp.median_rank(n, confidence) == k, (n, confidence)
