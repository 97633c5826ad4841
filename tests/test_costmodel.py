"""The cost model: a cache regime and a memory regime, split where the weights and
gradients outgrow the last-level cache."""

import numpy as np
import pytest

from sweeplib.analyse import costmodel as cm
from sweeplib.common.sizes import params_of_scale

SCALES = [1, 2, 3, 4, 5, 10, 50, 75, 100]
P = np.array([params_of_scale(s) for s in SCALES])
LLC = 32 * 2**20  # knee at 4,194,304 parameters: between scales 6 and 7


def test_knee_is_the_cache_over_eight_bytes_per_parameter():
    assert cm.knee(LLC) == 4194304
    assert cm.knee(float("nan")) is None and cm.knee(None) is None


def test_two_regimes_are_recovered():
    truth = cm.CostModel(
        overhead_s=2e-4, cache_s=1.0e-9, memory_s=3.0e-9, knee_params=cm.knee(LLC)
    )
    fit = cm.fit(P, truth.predict(P), LLC)
    assert fit.knee_params == truth.knee_params
    assert fit.overhead_s == pytest.approx(2e-4, rel=1e-6)
    assert fit.cache_s == pytest.approx(
        1e-9, rel=1e-6
    ) and fit.memory_s == pytest.approx(3e-9, rel=1e-6)
    assert np.abs(cm.residuals(fit, P, truth.predict(P))).max() < 1e-9
    # Overhead dominates the smallest size, the cache the middle ones, memory the
    # largest.
    assert (
        fit.regimes(P)[0] == "overhead"
        and fit.regimes(P)[3] == "cache"
        and fit.regimes(P)[-1] == "memory"
    )


def test_one_straight_line_misses_a_two_regime_machine():
    truth = cm.CostModel(2e-4, 1.0e-9, 3.0e-9, cm.knee(LLC))
    line = cm.fit(P, truth.predict(P), None)  # the cache size unknown: one line
    assert line.knee_params is None
    assert np.abs(cm.residuals(line, P, truth.predict(P))).max() > 0.25


def test_too_few_sizes_on_one_side_fall_back_to_one_line():
    small = P[:5]  # all below the knee
    fit = cm.fit(small, 2e-4 + 1e-9 * small, LLC)
    assert fit.knee_params is None and fit.cache_s == pytest.approx(1e-9, rel=1e-6)


def test_a_disturbed_size_does_not_drag_the_fit():
    truth = cm.CostModel(2e-4, 1.0e-9, 3.0e-9, cm.knee(LLC))
    t = truth.predict(P)
    t[2] *= 3
    fit = cm.fit(P, t, LLC)
    res = cm.residuals(fit, P, t)
    assert abs(res[2]) > 0.5 and np.abs(np.delete(res, 2)).max() < 0.05


def test_terms_stay_non_negative():
    fit = cm.fit(P[:4], [1e-3, 9e-4, 8e-4, 7e-4], None)  # times that fall with size
    assert fit.overhead_s >= 0 and fit.cache_s >= 0


def test_model_crossings_by_hand():
    # 1 ms + 2 ns/param against 3 ms + 0 ns/param meet at 1M parameters.
    a = cm.CostModel(1e-3, 2e-9, 2e-9, None)
    b = cm.CostModel(3e-3, 0.0, 0.0, None)
    (x,) = cm.model_crossings(a, b, 1e5, 1e8)
    assert x == pytest.approx(1e6, rel=1e-3)
    assert cm.model_crossings(a, b, 1e7, 1e8) == []
