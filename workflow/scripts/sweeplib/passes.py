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
    """The decision after pass ``n`` (``previous``: the decision after pass n - 1)."""
    table, boots = speedup_table(
        windows,
        baseline,
        analysis["bootstrap"],
        analysis["confidence"],
        analysis["seed"],
    )
    history = previous["history"] if previous else []
    props, candidates, states = [], [], {}
    for device, g in table.groupby("device"):
        order = np.argsort(g["params"].to_numpy())
        g = g.iloc[order]
        entry = describe_crossings(g, boots[device][:, order], analysis["confidence"])
        curve = curve_of(g)
        props += refine.proposals(curve, entry["crossings"], settings)
        candidates += refine.deciding(curve, entry["crossings"])
        states[device] = [c["kind"] for c in entry["crossings"]] or [
            f"none ({entry['winner_throughout'] or 'level'})"
        ]
    added = [a for done in history for a in done["added"]]
    cost = costs(windows, settings)
    chosen, stop = refine.decide(
        list({p.scale: p for p in props}.values()),
        list({z.scale: z for z in candidates}.values()),
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
                "cost_s": cost["new"] if p.batch == 0 else cost[p.scale],
            }
            for p in chosen
        ],
        "stop": stop,
    }
    return {**this, "history": [*history, this]}


def batches_done(added: list[dict]) -> dict:
    """Per scale, the highest batch of extra processes added so far."""
    out: dict = {}
    for a in added:
        out[a["scale"]] = max(out.get(a["scale"], 0), a["batch"])
    return out


def costs(windows: pd.DataFrame, settings: refine.Settings) -> dict:
    """Seconds a batch costs at each measured scale (what its first run's processes
    took), and a new size's (``"new"``: its time budget)."""
    first = timing_processes(windows.assign(machine=""))
    first = first[first["process"] < PROCESS_STRIDE]
    per_scale = first.groupby("scale")["process_wall_s"].sum()
    return {
        "new": settings.seconds,
        **{canonical_scale(s): float(v) for s, v in per_scale.items()},
    }
