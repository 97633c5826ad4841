"""Where to measure next, so that the crossover statement becomes an answer
(docs/METHOD.md, "Refinement"). Plain values in and out: no I/O, no torch.

After each pass of measurements, for every compared device:

- a crossing known only as a **range**, or a **point** whose interval spans
  more than ``point_ratio`` (1.5x) in parameters: add the geometric middle of
  the widest gap between swept sizes inside its bracket;
- a crossing **open below** (level at the smallest sizes, faster from some
  size on) or **open above** (slower up to some size, level beyond): add the
  middle of the gap where the level stretch begins or ends, so that the stretch
  is shown by sizes close together;
- **faster already at the smallest size**: add half the smallest scale, down
  to ``min_scale``; **not faster at the largest size** (slower, or level after
  being slower): add twice the largest, up to ``max_scale`` (the plan then
  checks memory);
- a bracket or gap whose sizes are at most ``bracket_ratio`` (1.25x) apart in
  parameters is settled: nothing is added there.

Sizes are scales of at most two decimals, so a gap narrower than that
resolution is settled too. With budget left after the sizes, the sizes that
decide the statement (the ends of every crossing's bracket, and the largest
size, which gives the headline) get another wave of processes, widest
interval first, while it is wider than ``wave_if_wider``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..common.sizes import canonical_scale, scale_for_params


@dataclass(frozen=True)
class Settings:
    """The config's ``refine`` section."""

    enabled: bool
    minutes: float
    max_sizes: int
    max_passes: int
    seconds: float
    bracket_ratio: float
    point_ratio: float
    min_scale: float
    max_scale: float
    max_waves: int
    wave_if_wider: float


@dataclass(frozen=True)
class Size:
    """One swept size of a device's speedup curve (``curve``: the curve's series axes,
    ``series.Series.words``; "" where the sweep has one curve)."""

    scale: float
    params: float
    ci_low: float
    ci_high: float
    curve: str = ""

    @property
    def at(self) -> tuple[str, float]:
        """Where the size is: its curve and scale."""
        return self.curve, self.scale

    @property
    def side(self) -> str:
        """``above`` (the device is faster), ``below`` or ``level``."""
        return "above" if self.ci_low > 1 else "below" if self.ci_high < 1 else "level"

    @property
    def width(self) -> float:
        """How many times its interval's top is its bottom."""
        return self.ci_high / self.ci_low if self.ci_low > 0 else math.inf


@dataclass(frozen=True)
class Proposal:
    scale: float
    reason: str
    wave: int = 0  # 0: a new size; k: its k-th wave of extra processes
    curve: str = ""  # the curve it refines (Size.curve)

    @property
    def at(self) -> tuple[str, float]:
        return self.curve, self.scale


def _on(curve: str) -> str:
    return f" ({curve})" if curve else ""


def fmt(params: float) -> str:
    return f"{params:,.0f}"


def proposals(sizes: list[Size], crossings: list[dict], s: Settings) -> list[Proposal]:
    """The sizes to add for one device, by the rules above (ascending ``sizes``;
    ``crossings`` as ``crossover.crossings`` gives them, as dicts)."""
    out = []
    for c in crossings:
        if c["kind"] == "point":
            out += _point(sizes, c, s)
        elif c["kind"] == "range":
            why = (
                f"the crossing lies somewhere between {fmt(c['low_params'])} and "
                f"{fmt(c['high_params'])} parameters"
            )
            out += _gap(sizes, c["low_params"], c["high_params"], why, s)
        else:
            out += _stretch_end(sizes, c, s)
    if sizes[0].side == "above":
        out += _below(sizes, s)
    if sizes[-1].side == "below" or any(c["kind"] == "open_above" for c in crossings):
        out += _above(sizes, s)
    swept = {z.scale for z in sizes}
    unique = {p.scale: p for p in out if p.scale not in swept}
    curve = sizes[0].curve if sizes else ""
    return [replace(p, curve=curve) for p in unique.values()]


def _point(sizes: list[Size], c: dict, s: Settings) -> list[Proposal]:
    """A point whose interval is wide: the middle of its bracket."""
    interval = c["high_params"] / c["low_params"] if c["low_params"] > 0 else 0
    if math.isfinite(interval) and 0 < interval <= s.point_ratio:
        return []
    span = f"{interval:.2f}x" if interval else "an undetermined range"
    why = (
        f"the crossing near {fmt(c['params'])} parameters has an interval spanning "
        f"{span}"
    )
    low, high = c["bracket_params"]
    return _gap(sizes, low, high, why, s)


def _stretch_end(sizes: list[Size], c: dict, s: Settings) -> list[Proposal]:
    """Where a level stretch at either end of the sweep meets the decisive sizes."""
    params = [z.params for z in sizes]
    if c["kind"] == "open_below":
        k = params.index(c["high_params"])  # the first size that is faster
        low, high = params[k - 1], params[k]
        why = "the device is indistinguishable below a size and faster from it on"
    else:
        k = params.index(c["low_params"])  # the last size that is slower
        low, high = params[k], params[k + 1]
        why = "the device is slower up to a size and indistinguishable beyond it"
    return _gap(sizes, low, high, why, s)


def _gap(
    sizes: list[Size], low: float, high: float, why: str, s: Settings
) -> list[Proposal]:
    """The geometric middle of the widest gap between swept sizes in [low, high],
    unless every gap there is at most ``bracket_ratio`` wide."""
    inside = [z for z in sizes if low <= z.params <= high]
    if len(inside) < 2:
        return []
    a, b = max(zip(inside, inside[1:]), key=lambda ab: ab[1].params / ab[0].params)
    if b.params / a.params <= s.bracket_ratio:
        return []
    middle = middle_scale(a, b)
    if middle is None:
        return []
    where = f"the geometric middle of scales {a.scale} and {b.scale}"
    return [Proposal(middle, f"{why}: {where}")]


def middle_scale(a: Size, b: Size) -> float | None:
    """The scale of two decimals nearest the geometric middle of two sizes' parameters,
    or None when none lies strictly between them."""
    middle = canonical_scale(round(scale_for_params(math.sqrt(a.params * b.params)), 2))
    return middle if a.scale < middle < b.scale else None


def _below(sizes: list[Size], s: Settings) -> list[Proposal]:
    half = canonical_scale(round(sizes[0].scale / 2, 2))
    if half < s.min_scale or half >= sizes[0].scale:
        return []
    why = "the device is faster already at the smallest size"
    return [Proposal(half, f"{why}: half the smallest scale, {sizes[0].scale}")]


def _above(sizes: list[Size], s: Settings) -> list[Proposal]:
    double = canonical_scale(sizes[-1].scale * 2)
    if double > s.max_scale:
        return []
    why = "the device is not faster at the largest size"
    return [Proposal(double, f"{why}: twice the largest scale, {sizes[-1].scale}")]


def deciding(sizes: list[Size], crossings: list[dict]) -> list[Size]:
    """The sizes whose intervals decide the statement: the ends of every crossing's
    bracket (the sizes just either side of it), and the largest size."""
    by_scale = {z.scale: z for z in sizes}
    ends = {canonical_scale(x) for c in crossings for x in c["between_scales"]}
    chosen = [by_scale[x] for x in sorted(ends) if x in by_scale]
    return list({z.at: z for z in [*chosen, sizes[-1]]}.values())


def decide(
    props: list[Proposal],
    candidates: list[Size],
    waves_done: dict,
    costs: dict,
    spent_s: float,
    sizes_added: int,
    passes_done: int,
    s: Settings,
) -> tuple[list[Proposal], str | None]:
    """What the next pass measures, within the budget, and why refinement stops
    (None: it goes on). ``costs`` maps a size's place (``Size.at``: its curve and
    scale) to the seconds a wave of it costs (``"new"``: a new size's);
    ``waves_done`` a place to its waves so far. The budget is one curve's
    (``refine_pass.py`` decides for each curve apart): new sizes in the order given,
    then waves, widest interval first."""
    if passes_done >= s.max_passes:
        return [], f"the most passes, {s.max_passes}, have run"
    budget = 60 * s.minutes
    chosen, spend = [], spent_s
    for p in props:
        if sizes_added + len(chosen) >= s.max_sizes:
            break
        if spend + costs["new"] <= budget:
            chosen.append(p)
            spend += costs["new"]
    beyond = []  # the waves the rules want and the time left cannot buy
    for z in sorted(candidates, key=lambda z: -z.width):
        done = waves_done.get(z.at, 0)
        cost = costs.get(z.at, math.inf)
        if z.width <= s.wave_if_wider or done >= s.max_waves:
            continue
        if spend + cost <= budget:
            reason = (
                f"its interval, [{z.ci_low:.2f}, {z.ci_high:.2f}], decides the "
                f"statement and spans {z.width:.2f}x"
            )
            chosen.append(Proposal(z.scale, reason, wave=done + 1, curve=z.curve))
            spend += cost
        else:
            beyond.append(
                f"another wave of processes at scale {z.scale}{_on(z.curve)}, whose "
                f"interval [{z.ci_low:.2f}, {z.ci_high:.2f}] spans {z.width:.2f}x, "
                f"would take {cost:.0f} s ({max(budget - spend, 0):.0f} s of "
                "refine.minutes are left)"
            )
    if chosen:
        return chosen, None
    if not props:
        stop = "settled: every crossing is as sharp as the rules ask"
    else:
        stop = "the budget is spent (time or sizes)"
    return [], "; ".join([stop, *beyond])
