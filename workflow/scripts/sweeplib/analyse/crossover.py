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

Beyond a crossing, until the next one, the sizes that are level are its
exceptions (``then_level``): the statement names them ("faster from X on,
except at Y, where the two are indistinguishable"). Where to measure next so
that the statement sharpens is ``refine.py``'s question.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..common.sizes import canonical_scale


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
    level_scales: list = field(default_factory=list)
    between_scales: tuple = (0, 0)
    # the bracketing swept sizes of a point (its interval is the point's own)
    bracket_params: tuple = (math.nan, math.nan)
    # the sizes beyond the crossing, before the next one, that are not clearly on its
    # winning side: indistinguishable from the baseline there
    then_level: list = field(default_factory=list)


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
        level = [
            canonical_scale(scales[k]) for k in range(i, j + 1) if classes[k] == "level"
        ]
        return Crossing(
            kind,
            direction,
            params[i],
            params[j],
            level_scales=level,
            between_scales=(canonical_scale(scales[i]), canonical_scale(scales[j])),
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
    return _with_what_follows(out, scales, params, classes)


def _with_what_follows(
    found: list[Crossing], scales, params, classes
) -> list[Crossing]:
    """Each crossing with the level sizes after it, up to the next crossing: the
    exceptions to "faster from here on"."""
    index = {canonical_scale(s): k for k, s in enumerate(scales)}
    for n, c in enumerate(found):
        if c.kind == "open_above":
            continue
        start = index[c.between_scales[1]]
        end = (
            index[found[n + 1].between_scales[0]] if n + 1 < len(found) else len(scales)
        )
        c.then_level = [
            canonical_scale(scales[k])
            for k in range(start, end)
            if classes[k] == "level"
        ]
    return found


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
        between_scales=(canonical_scale(scales[i]), canonical_scale(scales[i + 1])),
        bracket_params=(float(params[i]), float(params[i + 1])),
    )


def winner_throughout(ci_low, ci_high) -> str | None:
    """``device`` or ``baseline`` when one is faster at every size swept, else None."""
    classes = set(classify(ci_low, ci_high))
    if classes == {"above"}:
        return "device"
    if classes == {"below"}:
        return "baseline"
    return None
