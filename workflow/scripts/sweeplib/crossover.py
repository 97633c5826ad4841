"""Where a device's speedup over the baseline crosses 1, stated no more sharply than
the intervals allow (docs/METHOD.md, "Crossover").

Each swept size is *above* (its speedup interval lies above 1: the device is
faster), *below* (the interval lies below 1: the baseline is faster) or
*level* (the interval contains 1). Walking up the sizes, every change between
above and below is a crossing:

- between two neighbouring sizes, one below and one above, the crossing is a
  **point**: where the line through (log params, log speedup) of the two sizes
  meets 1, with the percentile interval of the same point over the bootstrap
  replicates of the speedup curve (the rounds' variation, ``speedup.py``);
- with level sizes in between, the crossing is a **range**: it lies somewhere
  between the last size on one side and the first on the other, and no point
  is claimed;
- level sizes at the start or the end of the sweep leave the crossing open
  there, and all-above or all-below sweeps have none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .sizes import params_of_scale, scale_for_params


@dataclass
class Crossing:
    kind: str  # "point" | "range" | "open_below" | "open_above"
    # "overtakes": the device becomes the faster with size; "falls_behind": the reverse
    direction: str
    low_params: float  # the bracketing swept sizes (or the interval of a point)
    high_params: float
    params: float = math.nan  # the point estimate (kind "point" only)
    # the share of bootstrap replicates that cross between the two sizes
    share: float = math.nan
    # the sizes whose interval contains 1
    level_scales: list[int] = field(default_factory=list)
    between_scales: tuple[int, int] = (0, 0)


def classify(ci_low, ci_high) -> list[str]:
    return [
        "above" if lo > 1 else "below" if hi < 1 else "level"
        for lo, hi in zip(ci_low, ci_high)
    ]


def interpolate(p0: float, s0: float, p1: float, s1: float) -> float:
    """Where the line through (log p, log s) of two sizes meets s = 1."""
    a, b = math.log(s0), math.log(s1)
    t = a / (a - b)
    return math.exp(math.log(p0) + t * (math.log(p1) - math.log(p0)))


def crossings(
    scales, params, speedup, ci_low, ci_high, replicates: np.ndarray, confidence: float
) -> list[Crossing]:
    """Every crossing of a speedup curve swept at ``params`` (ascending), per the rules
    above. ``replicates`` has one row per bootstrap replicate, one column per size."""
    classes = classify(ci_low, ci_high)
    decisive = [i for i, c in enumerate(classes) if c != "level"]
    if not decisive:
        return []

    def span(kind, direction, i, j) -> Crossing:
        """A crossing known only to lie between sizes i and j (level sizes between)."""
        level = [int(scales[k]) for k in range(i, j + 1) if classes[k] == "level"]
        return Crossing(
            kind,
            direction,
            params[i],
            params[j],
            level_scales=level,
            between_scales=(int(scales[i]), int(scales[j])),
        )

    first, last = decisive[0], decisive[-1]
    out = (
        [span("open_below", "overtakes", 0, first)]
        if (first > 0 and classes[first] == "above")
        else []
    )
    for i, j in zip(decisive, decisive[1:]):
        if classes[i] == classes[j]:
            continue
        direction = "overtakes" if classes[i] == "below" else "falls_behind"
        if j == i + 1:
            out.append(
                _point(i, params, speedup, replicates, confidence, direction, scales)
            )
        else:
            out.append(span("range", direction, i, j))
    if last < len(classes) - 1 and classes[last] == "below":
        out.append(span("open_above", "overtakes", last, len(classes) - 1))
    return out


def _point(
    i: int,
    params,
    speedup,
    replicates: np.ndarray,
    confidence: float,
    direction: str,
    scales,
) -> Crossing:
    estimate = interpolate(params[i], speedup[i], params[i + 1], speedup[i + 1])
    values = [
        interpolate(params[i], r[i], params[i + 1], r[i + 1])
        for r in replicates
        if (r[i] - 1) * (r[i + 1] - 1) < 0
    ]
    share = len(values) / max(len(replicates), 1)
    alpha = (1 - confidence) / 2
    if share >= 0.5:
        low, high = np.exp(
            np.percentile(np.log(values), [100 * alpha, 100 * (1 - alpha)])
        )
    else:
        low = high = math.nan
    return Crossing(
        "point",
        direction,
        float(low),
        float(high),
        params=estimate,
        share=share,
        between_scales=(int(scales[i]), int(scales[i + 1])),
    )


def winner_throughout(ci_low, ci_high) -> str | None:
    """``device`` or ``baseline`` when one is faster at every size swept, else None."""
    classes = set(classify(ci_low, ci_high))
    if classes == {"above"}:
        return "device"
    if classes == {"below"}:
        return "baseline"
    return None


def suggest_scale(
    crossing: Crossing, scales: list[int], max_ratio: float = 1.5
) -> str | None:
    """A scale to add where a crossing is known only to a range, or a wide interval."""
    lo, hi = crossing.low_params, crossing.high_params
    if (
        crossing.kind == "point"
        and math.isfinite(lo)
        and math.isfinite(hi)
        and hi / lo <= max_ratio
    ):
        return None
    middle = crossing.params if crossing.kind == "point" else math.sqrt(lo * hi)
    s = scale_for_params(middle)
    for candidate in sorted({math.floor(s), math.ceil(s)}, key=lambda c: abs(c - s)):
        if candidate >= 1 and candidate not in scales:
            params = f"{params_of_scale(candidate):,.0f} parameters"
            return f"add scale {candidate} ({params}) to the config and rerun"
    return (
        "the sizes around it are all swept: raise timing.rounds or timing.processes "
        "there to narrow the intervals"
    )
