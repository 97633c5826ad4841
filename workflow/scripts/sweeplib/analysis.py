"""The sweep's statistics: per-cell spread, speedups with bootstrap intervals,
crossovers in log(parameters), and a per-device cost model.

Pure functions of numbers: no files, no torch. docs/METHOD.md states each
computation in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def quartiles(x) -> tuple[float, float, float]:
    q25, med, q75 = np.percentile(np.asarray(x, dtype=float), [25, 50, 75])
    return float(q25), float(med), float(q75)


def bootstrap_medians(samples, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of ``n_boot`` resamples (with replacement) of ``samples``, drawn in O(n_boot).

    A resample of n draws is n uniform indices into the sorted samples, and
    its median is one order statistic of those indices (two for even n). The
    k-th smallest of n uniforms on (0, 1) follows Beta(k, n - k + 1), and the
    next one lies above it by a fraction Beta(1, n - k) of what is left;
    scaling by n and flooring gives the index order statistics exactly. So
    this draws from the same distribution as resampling and taking
    ``np.median``, without materialising n_boot x n resamples.
    """
    x = np.sort(np.asarray(samples, dtype=float))
    n = len(x)
    m = (n + 1) // 2  # 1-based rank of the (lower) median
    lower = rng.beta(m, n - m + 1, size=n_boot)
    i = np.minimum((lower * n).astype(np.int64), n - 1)
    if n % 2:
        return x[i]
    upper = lower + (1 - lower) * rng.beta(1, n - m, size=n_boot)
    j = np.minimum((upper * n).astype(np.int64), n - 1)
    return (x[i] + x[j]) / 2


def crossings(params, speedup) -> list[tuple[float, int]]:
    """Parameter counts where the speedup crosses 1, interpolated linearly in
    (log params, log speedup) between neighbouring sizes; with the index of the
    lower neighbour. A size measured at exactly 1 counts as a crossing there."""
    p = np.log(np.asarray(params, dtype=float))
    s = np.log(np.asarray(speedup, dtype=float))
    out = []
    for i in range(len(p) - 1):
        a, b = s[i], s[i + 1]
        if a == 0:
            out.append((float(np.exp(p[i])), i))
        elif a * b < 0:
            t = a / (a - b)
            out.append((float(np.exp(p[i] + t * (p[i + 1] - p[i]))), i))
    if len(s) and s[-1] == 0:
        out.append((float(np.exp(p[-1])), len(p) - 1))
    return out


def faster_throughout(speedup, device: str, baseline: str) -> str | None:
    """The device faster at every size of a sweep that never crosses 1 (None when it crosses)."""
    s = np.asarray(speedup, dtype=float)
    if len(s) == 0 or crossings(np.arange(1, len(s) + 1), s):
        return None
    return device if (s > 1).all() else baseline


@dataclass
class Crossover:
    params: float
    low: float  # interval bounds; nan when too few bootstrap replicates cross
    high: float
    share: float  # share of bootstrap replicates that cross near here
    lower_index: int


def crossovers_with_intervals(params, speedup, boot_speedups: np.ndarray, confidence: float) -> list[Crossover]:
    """Each crossing with a percentile interval over bootstrap replicates.

    ``boot_speedups`` has one row per replicate, one column per size. Every
    crossing of a replicate is attributed to the estimated crossing nearest to
    it in log(params); each estimate's interval comes from the crossings
    attributed to it (a replicate's nearest one, if several).
    """
    found = crossings(params, speedup)
    if not found:
        return []
    centres = np.log([x for x, _ in found])
    near: list[list[float]] = [[] for _ in found]
    for row in boot_speedups:
        best: dict[int, float] = {}
        for v, _ in crossings(params, row):
            k = int(np.argmin(np.abs(centres - math.log(v))))
            if k not in best or abs(math.log(v) - centres[k]) < abs(math.log(best[k]) - centres[k]):
                best[k] = v
        for k, v in best.items():
            near[k].append(v)
    alpha = (1 - confidence) / 2
    out = []
    for (x, i), values in zip(found, near):
        if len(values) >= 0.5 * len(boot_speedups):
            low, high = np.exp(np.percentile(np.log(values), [100 * alpha, 100 * (1 - alpha)]))
        else:
            low = high = float("nan")
        out.append(Crossover(x, float(low), float(high), len(values) / max(len(boot_speedups), 1), i))
    return out


@dataclass
class CostModel:
    """Step time = overhead + per_param x params, fitted to one device's medians."""

    overhead_s: float
    per_param_s: float

    def predict(self, params):
        return self.overhead_s + self.per_param_s * np.asarray(params, dtype=float)


def fit_cost_model(params, seconds, iterations: int = 20, huber: float = 0.1) -> CostModel:
    """Robust fit of ``t = a + b p`` (a, b >= 0) in relative error.

    Relative error, because the sizes span orders of magnitude and an absolute
    fit would ignore the small ones; Huber weights (beyond a 10% residual), so
    one disturbed point does not drag the line.
    """
    p = np.asarray(params, dtype=float)
    t = np.asarray(seconds, dtype=float)
    w = np.ones_like(t)
    a = b = 0.0
    for _ in range(iterations):
        # Weighted least squares of (a + b p - t) / t.
        A = np.stack([1 / t, p / t], axis=1) * np.sqrt(w)[:, None]
        y = np.sqrt(w)
        (a, b), *_ = np.linalg.lstsq(A, y, rcond=None)
        if a < 0:
            a, b = 0.0, float(np.sum(w * p / t) / np.sum(w * (p / t) ** 2))
        if b < 0:
            a, b = float(np.sum(w / t) / np.sum(w / t**2)), 0.0
        r = np.abs((a + b * p - t) / t)
        w = np.where(r <= huber, 1.0, huber / np.maximum(r, 1e-300))
    return CostModel(float(a), float(b))


def model_crossover(baseline: CostModel, device: CostModel) -> float | None:
    """Where the two fitted lines meet (None if they do not, for positive params)."""
    db = baseline.per_param_s - device.per_param_s
    da = device.overhead_s - baseline.overhead_s
    if db == 0:
        return None
    p = da / db
    return float(p) if p > 0 else None


def regime(model: CostModel, params: float) -> str:
    """Overhead-bound when the fixed cost is most of the step, else bandwidth-bound."""
    return "overhead-bound" if model.overhead_s >= model.per_param_s * params else "bandwidth-bound"


def params_of_scale(scale: float) -> float:
    return 90000 * scale**2 + 900 * scale + 2


def scale_for_params(params: float) -> float:
    """Inverse of the post's parameter count, 90000 s^2 + 900 s + 2."""
    return (-900 + math.sqrt(900**2 + 4 * 90000 * (params - 2))) / (2 * 90000)


def suggest_scale(crossover: Crossover, scales: list[int], max_ratio: float = 1.5) -> str | None:
    """A scale to add when the crossover's interval is wide (its bounds over max_ratio apart)."""
    lo, hi = crossover.low, crossover.high
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi / lo > max_ratio:
        s = scale_for_params(crossover.params)
        for candidate in sorted({math.floor(s), math.ceil(s)}, key=lambda c: abs(c - s)):
            if candidate >= 1 and candidate not in scales:
                return f"add scale {candidate} ({params_of_scale(candidate):,.0f} parameters) to the config and rerun"
        return "the crossover lies between neighbouring integer scales already swept: raise timing.repeats or steps_per_repeat"
    return None
