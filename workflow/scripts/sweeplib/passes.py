"""One pass of refinement: from the windows measured so far to what the next pass
measures (``refine.py``'s rules), or why refinement stops.

Each pass's decision is a file of its own (``results/refine/<chain>/after<n>.json``,
a Snakemake checkpoint); it carries the history of every pass before it, so the
last one alone tells the report what was added, when and why. Costs are seconds:
a new size costs its time budget (``refine.seconds``); another batch of
processes at a size costs what that size's first run took.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import refine
from .analysis import curve_of, describe_crossings, timing_processes
from .runspec import PROCESS_STRIDE
from .series import curves, varying, with_axes
from .sizes import canonical_scale
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
    over every curve of this machine (``series.curves``), each refined by the same
    rules; the budget is shared as ``refine.decide`` says, the curves' proposals
    taken in turn."""
    history = previous["history"] if previous else []
    found = list(curves(with_axes(windows).assign(machine="")))
    shown = varying([series for series, _ in found])
    axes_of, per_curve, candidates, states = {}, [], [], {}
    for series, w in found:
        curve = series.words(shown) if shown else ""
        axes_of[curve] = series.axes
        props = []
        for device, entry, sizes in device_curves(w, baseline, analysis, curve):
            props += refine.proposals(sizes, entry["crossings"], settings)
            candidates += refine.deciding(sizes, entry["crossings"])
            states[_state_key(device, curve)] = [
                c["kind"] for c in entry["crossings"]
            ] or [f"none ({entry['winner_throughout'] or 'level'})"]
        per_curve.append(list({p.at: p for p in props}.values()))
    added = [a for done in history for a in done["added"]]
    cost = costs(windows, settings, shown)
    chosen, stop = refine.decide(
        in_turn(per_curve),
        list({z.at: z for z in candidates}.values()),
        batches_done(added),
        cost,
        sum(a["cost_s"] for a in added),
        sum(1 for a in added if a["batch"] == 0),
        n,
        settings,
    )
    this = {
        "pass": n,
        "measured": sorted({canonical_scale(s) for s in windows["scale"]}),
        "crossings": states,
        "added": [
            {
                **vars(p),
                **axes_of[p.curve],
                "cost_s": cost["new"] if p.batch == 0 else cost[p.at],
            }
            for p in chosen
        ],
        "stop": stop,
    }
    return {**this, "history": [*history, this]}


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


def in_turn(lists: list[list]) -> list:
    """The items of several lists taken in turn: the first of each, then the second
    of each, and so on (so that no curve spends the budget before another)."""
    out = []
    for k in range(max(map(len, lists), default=0)):
        out += [items[k] for items in lists if k < len(items)]
    return out


def batches_done(added: list[dict]) -> dict:
    """Per place (curve, scale), the highest batch of extra processes added so far."""
    out: dict = {}
    for a in added:
        at = (a.get("curve", ""), a["scale"])
        out[at] = max(out.get(at, 0), a["batch"])
    return out


def costs(windows: pd.DataFrame, settings: refine.Settings, shown: set) -> dict:
    """Seconds a batch costs at each measured place (curve, scale): what its first
    run's processes took; and a new size's (``"new"``: its time budget)."""
    first = timing_processes(with_axes(windows).assign(machine=""))
    first = first[first["process"] < PROCESS_STRIDE]
    out = {"new": settings.seconds}
    for series, rows in curves(first):
        curve = series.words(shown) if shown else ""
        for s, v in rows.groupby("scale")["process_wall_s"].sum().items():
            out[(curve, canonical_scale(s))] = float(v)
    return out
