"""Why the times are what they are: a per-device cost model of a training step, fitted
to the measured sizes, with each size's residual (docs/METHOD.md, "Cost model").

A step costs a fixed overhead ``a`` plus a cost per parameter. A step reads and
writes every weight and gradient (``ModelSizes.bytes_per_step``), so the cost per
parameter depends on where they live: while the weights and gradients (8 bytes
per parameter) fit in the device's last-level cache, each costs ``b_cache``;
the parameters beyond what the cache holds cost ``b_memory``, streamed from
memory. With the knee K = LLC bytes / 8:

    t(P) = a + b_cache * min(P, K) + b_memory * max(0, P - K)

The knee is read from the machine (``hardware.py``), not fitted. Both slopes are
fitted only when at least two swept sizes lie on each side of the knee;
otherwise (or when the cache size is unknown) one line ``a + b P`` is fitted.
The fit minimises the relative residual (the sizes span four orders of
magnitude) with Huber weights beyond 10%, and all terms are kept >= 0.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..common.sizes import STATE_BYTES_PER_PARAM


@dataclass
class CostModel:
    overhead_s: float
    # per parameter held in the cache (the only slope of a one-line model)
    cache_s: float
    memory_s: float  # per parameter beyond the cache
    knee_params: float | None  # None: one line

    def parts(self, params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The overhead, cache and memory terms of the step time at each size."""
        p = np.asarray(params, dtype=float)
        if self.knee_params is None:
            return np.full_like(p, self.overhead_s), self.cache_s * p, np.zeros_like(p)
        k = self.knee_params
        return (
            np.full_like(p, self.overhead_s),
            self.cache_s * np.minimum(p, k),
            self.memory_s * np.maximum(0, p - k),
        )

    def predict(self, params) -> np.ndarray:
        return sum(self.parts(params))

    def regimes(self, params) -> list[str]:
        """What dominates each size's step: the fixed overhead, the cache-resident
        weights, or the weights streamed from memory (``per-parameter`` for a one-line
        model)."""
        names = (
            ("overhead", "cache", "memory")
            if self.knee_params is not None
            else ("overhead", "per-parameter", "")
        )
        stacked = np.stack(self.parts(params))
        return [names[i] for i in stacked.argmax(axis=0)]


def knee(llc_bytes: float | None) -> float | None:
    if llc_bytes is None or not math.isfinite(llc_bytes) or llc_bytes <= 0:
        return None
    return llc_bytes / STATE_BYTES_PER_PARAM


def fit(
    params, seconds, llc_bytes: float | None, iterations: int = 20, huber: float = 0.1
) -> CostModel:
    """The cost model of one device's median step times (see the module's docstring)."""
    p = np.asarray(params, dtype=float)
    t = np.asarray(seconds, dtype=float)
    k = knee(llc_bytes)
    if k is not None and ((p <= k).sum() < 2 or (p > k).sum() < 2):
        k = None
    columns = (
        [np.ones_like(p), p]
        if k is None
        else [np.ones_like(p), np.minimum(p, k), np.maximum(0, p - k)]
    )
    x = np.stack(columns, axis=1) / t[:, None]  # relative residual: (x . coef - t) / t
    w = np.ones_like(t)
    coef = np.zeros(x.shape[1])
    for _ in range(iterations):
        coef = _nonnegative_least_squares(x * np.sqrt(w)[:, None], np.sqrt(w))
        r = np.abs(x @ coef - 1)
        w = np.where(r <= huber, 1.0, huber / np.maximum(r, 1e-300))
    if k is None:
        return CostModel(float(coef[0]), float(coef[1]), float(coef[1]), None)
    return CostModel(float(coef[0]), float(coef[1]), float(coef[2]), float(k))


def _nonnegative_least_squares(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """min |a c - y| with c >= 0, by trying every set of free terms (there are at most
    three)."""
    best, best_err = np.zeros(a.shape[1]), float(np.sum(y**2))
    for n in range(1, a.shape[1] + 1):
        for free in itertools.combinations(range(a.shape[1]), n):
            c, *_ = np.linalg.lstsq(a[:, free], y, rcond=None)
            if (c >= 0).all():
                coef = np.zeros(a.shape[1])
                coef[list(free)] = c
                err = float(np.sum((a @ coef - y) ** 2))
                if err < best_err:
                    best, best_err = coef, err
    return best


def residuals(model: CostModel, params, seconds) -> np.ndarray:
    """(predicted - measured) / measured at each size."""
    t = np.asarray(seconds, dtype=float)
    return (model.predict(params) - t) / t


def model_crossings(
    baseline: CostModel, device: CostModel, low: float, high: float
) -> list[float]:
    """Sizes in [low, high] where the two models predict the same step time."""
    p = np.geomspace(low, high, 4001)
    d = np.log(baseline.predict(p)) - np.log(device.predict(p))
    out = []
    for i in np.nonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)[0]:
        t = d[i] / (d[i] - d[i + 1])
        out.append(float(np.exp(np.log(p[i]) + t * (np.log(p[i + 1]) - np.log(p[i])))))
    return out
