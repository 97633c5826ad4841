import math

import numpy as np
import pytest

from sweeplib import analysis as an
from sweeplib.tables import analyse, cell_table, speedups

from synthetic import COSTS, sweep, true_crossover

SETTINGS = {"bootstrap": 400, "confidence": 0.95, "spread_flag": 0.1, "seed": 0}


def test_crossing_by_hand():
    # Speedup 0.5 at 1e6 and 2.0 at 4e6: log-linear interpolation meets 1 halfway in log(params), at 2e6.
    assert an.crossings([1e6, 4e6], [0.5, 2.0]) == [(pytest.approx(2e6), 0)]


def test_every_crossing_is_reported():
    found = an.crossings([1, 10, 100, 1000], [0.5, 2.0, 0.8, 3.0])
    assert [i for _, i in found] == [0, 1, 2]


def test_never_crossing_names_the_device_faster_throughout():
    assert an.faster_throughout([1.2, 3.0, 5.0], "cuda", "cpu") == "cuda"
    assert an.faster_throughout([0.2, 0.5, 0.9], "cuda", "cpu") == "cpu"
    assert an.faster_throughout([0.5, 2.0], "cuda", "cpu") is None


def test_cost_model_recovers_known_terms():
    p = np.array([an.params_of_scale(s) for s in (1, 2, 5, 10, 50, 100)])
    a, b = COSTS["cuda"]
    fit = an.fit_cost_model(p, a + b * p)
    assert fit.overhead_s == pytest.approx(a, rel=1e-6) and fit.per_param_s == pytest.approx(b, rel=1e-6)


def test_cost_model_shrugs_off_one_disturbed_point():
    p = np.array([an.params_of_scale(s) for s in (1, 2, 3, 4, 5, 10, 50, 100)])
    a, b = COSTS["cpu"]
    t = a + b * p
    t[3] *= 3  # one step time three times too slow
    fit = an.fit_cost_model(p, t)
    assert fit.overhead_s == pytest.approx(a, rel=0.05) and fit.per_param_s == pytest.approx(b, rel=0.05)


def test_synthetic_sweep_recovers_the_crossover_within_one_percent():
    steps, timings, hardware = sweep(["cpu", "cuda"], scales=range(1, 11))
    cells = cell_table(steps, timings, hardware, 0.1)
    table, summary = analyse(cells, steps, "cpu", SETTINGS, list(range(1, 11)))
    truth = true_crossover("cpu", "cuda")
    (found,) = summary["devices"]["cuda"]["crossovers"]
    assert found["params"] == pytest.approx(truth, rel=0.01)
    assert summary["devices"]["cuda"]["model_crossover"] == pytest.approx(truth, rel=0.01)
    # Each device's regime: the small sizes are overhead-bound on the accelerator.
    assert summary["fits"]["cuda"]["regimes"][1] == "overhead-bound"
    assert summary["fits"]["cpu"]["regimes"][10] == "bandwidth-bound"


def test_sweep_that_never_crosses():
    steps, timings, hardware = sweep(["cpu", "cuda"], scales=[20, 50, 100])
    cells = cell_table(steps, timings, hardware, 0.1)
    _, summary = analyse(cells, steps, "cpu", SETTINGS, [20, 50, 100])
    assert summary["devices"]["cuda"]["crossovers"] == []
    assert summary["devices"]["cuda"]["faster_throughout"] == "cuda"


def test_bootstrap_interval_covers_the_true_speedup():
    # 40 independent noisy sweeps; a 95% interval should cover the true ratio in most of them.
    scale = 5
    truth = (COSTS["cpu"][0] + COSTS["cpu"][1] * an.params_of_scale(scale)) / (COSTS["cuda"][0] + COSTS["cuda"][1] * an.params_of_scale(scale))
    covered = 0
    for trial in range(40):
        steps, timings, hardware = sweep(["cpu", "cuda"], scales=[scale], steps=60, noise=0.2, seed=trial)
        cells = cell_table(steps, timings, hardware, 0.1)
        table, _ = speedups(cells, steps, "cpu", 400, 0.95, seed=trial)
        row = table.iloc[0]
        covered += row["ci_low"] <= truth <= row["ci_high"]
        assert row["ci_low"] < row["speedup"] < row["ci_high"]
    assert covered >= 34  # 85%: binomial(40, 0.95) falls below this with probability under 1%


def test_crossover_interval_brackets_the_estimate():
    steps, timings, hardware = sweep(["cpu", "cuda"], scales=[2, 3, 4, 5, 6, 8], steps=40, noise=0.1)
    cells = cell_table(steps, timings, hardware, 0.1)
    _, summary = analyse(cells, steps, "cpu", SETTINGS, [2, 3, 4, 5, 6, 8])
    (c,) = summary["devices"]["cuda"]["crossovers"]
    assert c["low"] <= c["params"] <= c["high"]
    assert c["share"] > 0.9


def test_noisy_cells_are_flagged():
    steps, timings, hardware = sweep(["cpu"], scales=[1, 2], steps=100, noise=0.3)
    cells = cell_table(steps, timings, hardware, 0.1)
    assert cells["flagged"].all()
    steps, timings, hardware = sweep(["cpu"], scales=[1, 2], steps=100, noise=0.01)
    assert not cell_table(steps, timings, hardware, 0.1)["flagged"].any()


def test_scale_inverse_and_suggestion():
    assert an.scale_for_params(an.params_of_scale(7)) == pytest.approx(7)
    wide = an.Crossover(params=an.params_of_scale(6.6), low=1e6, high=1e7, share=1.0, lower_index=0)
    assert an.suggest_scale(wide, [1, 5, 10]).startswith("add scale 7 ")
    narrow = an.Crossover(params=3e6, low=2.9e6, high=3.1e6, share=1.0, lower_index=0)
    assert an.suggest_scale(narrow, [1, 5, 10]) is None
    assert "neighbouring" in an.suggest_scale(an.Crossover(an.params_of_scale(6.5), math.nan, math.nan, 0.2, 0), [6, 7])


@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_bootstrap_medians_follow_the_resampling_distribution(n):
    x = np.random.default_rng(1).lognormal(size=n)
    fast = an.bootstrap_medians(x, 40000, np.random.default_rng(3))
    # Resampling done the plain way: n draws with replacement, np.median of each.
    plain = np.median(x[np.random.default_rng(4).integers(0, n, size=(40000, n))], axis=1)
    assert abs(fast.mean() - plain.mean()) <= 0.02 * plain.std() + 1e-12
    assert fast.std() == pytest.approx(plain.std(), rel=0.03, abs=1e-12)
    for q in (2.5, 25, 50, 75, 97.5):
        lo, hi = np.percentile(plain, [max(q - 1, 0), min(q + 1, 100)])
        assert lo <= np.percentile(fast, q) <= hi, q
