"""One pass of refinement: from the windows measured so far to what the next pass
measures (``refine.py``'s rules), or why refinement stops.

Each pass's decision is a file of its own (``results/refine/<chain>/after<n>.json``,
a Snakemake checkpoint); it carries the history of every pass before it, so the
last one alone tells the report what was added, when and why. Costs are seconds:
a new size costs its time budget (``refine.seconds``); another wave of
processes at a size costs what that size's first run took.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..common.series import curves, varying, with_axes
from ..common.sizes import canonical_scale
from ..plan import refine
from ..plan.runspec import PROCESS_STRIDE
from .analysis import curve_of, describe_crossings, timing_processes
from .speedup import speedup_table


def decide_pass(
    windows: pd.DataFrame,
    baseline: str,
    analysis: dict,
    settings: refine.Settings,
    previous: dict | None,
    n: int,
) -> dict:
    """The decision after pass ``n`` (``previous``: the decision after pass n - 1),
    over every curve of this machine (``series.curves``). Each curve is refined by
    the same rules with a budget of its own (``refine.minutes`` and
    ``refine.max_sizes`` are per curve), from its own windows and its own history:
    adding or removing a curve changes no other curve's decisions, so their added
    runs stay cached. Refinement stops when every curve has stopped; a curve that
    stopped decides the same again in a later pass (its windows are the same)."""
    history = previous["history"] if previous else []
    added = [a for done in history for a in done["added"]]
    found = list(curves(with_axes(windows).assign(machine="")))
    shown = varying([series for series, _ in found])
    cost = costs(windows, settings, shown)
    chosen, stops, states = [], {}, {}
    for series, w in found:
        curve = series.words(shown) if shown else ""
        mine = [a for a in added if a.get("curve", "") == curve]
        props, candidates = [], []
        for device, entry, sizes in device_curves(w, baseline, analysis, curve):
            props += refine.proposals(sizes, entry["crossings"], settings)
            candidates += refine.deciding(sizes, entry["crossings"])
            states[_state_key(device, curve)] = [
                c["kind"] for c in entry["crossings"]
            ] or [f"none ({entry['winner_throughout'] or 'level'})"]
        picked, stop = refine.decide(
            list({p.at: p for p in props}.values()),
            list({z.at: z for z in candidates}.values()),
            waves_done(mine),
            cost,
            sum(a["cost_s"] for a in mine),
            sum(1 for a in mine if a["wave"] == 0),
            n,
            settings,
        )
        chosen += [(p, series.axes) for p in picked]
        if stop:
            stops[curve] = stop
    this = {
        "pass": n,
        "measured": sorted({canonical_scale(s) for s in windows["scale"]}),
        "crossings": states,
        "added": [
            {
                **vars(p),
                **axes,
                "cost_s": cost["new"] if p.wave == 0 else cost[p.at],
            }
            for p, axes in chosen
        ],
        "stop": None if chosen else stop_reason(stops),
        "stops": stops,
    }
    return {**this, "history": [*history, this]}


def stop_reason(stops: dict[str, str]) -> str:
    """Why refinement stops: the reason, where every curve stopped for the same one;
    else that every curve stopped (``stops`` holds each curve's)."""
    reasons = set(stops.values())
    if len(reasons) == 1:
        return reasons.pop()
    return "every curve has stopped, each for its reason"


def device_curves(w: pd.DataFrame, baseline: str, analysis: dict, curve: str):
    """Each compared device of one curve: its crossings (``describe_crossings``) and
    its sizes as the refinement rules read them."""
    table, boots = speedup_table(
        w,
        baseline,
        analysis["bootstrap"],
        analysis["confidence"],
        analysis["seed"],
    )
    for device, g in table.groupby("device"):
        order = np.argsort(g["params"].to_numpy())
        g = g.iloc[order]
        entry = describe_crossings(g, boots[device][:, order], analysis["confidence"])
        yield device, entry, curve_of(g, curve)


def _state_key(device: str, curve: str) -> str:
    return f"{device} ({curve})" if curve else device


def waves_done(added: list[dict]) -> dict:
    """Per place (curve, scale), the highest wave of extra processes added so far."""
    out: dict = {}
    for a in added:
        at = (a.get("curve", ""), a["scale"])
        out[at] = max(out.get(at, 0), a["wave"])
    return out


def costs(windows: pd.DataFrame, settings: refine.Settings, shown: set) -> dict:
    """Seconds a wave costs at each measured place (curve, scale): what its first
    run's processes took; and a new size's (``"new"``: its time budget)."""
    first = timing_processes(with_axes(windows).assign(machine=""))
    first = first[first["process"] < PROCESS_STRIDE]
    out = {"new": settings.seconds}
    for series, rows in curves(first):
        curve = series.words(shown) if shown else ""
        for s, v in rows.groupby("scale")["process_wall_s"].sum().items():
            out[(curve, canonical_scale(s))] = float(v)
    return out
