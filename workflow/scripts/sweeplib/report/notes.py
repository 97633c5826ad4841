"""What is said around a machine's numbers: its warnings (overlapping timed regions,
clocks, thread variables, implausible cells), its refinement passes, and the speedup
section with its notes (separate scales, disagreeing processes, noisy cells, the
untimed switch steps and the first timed one)."""

from __future__ import annotations

import pandas as pd

from ..analyse.clocks import clock_notes, clock_warnings
from ..common.devices import ACCELERATORS, INTERLEAVED
from ..common.formatting import fmt_params, fmt_time
from ..common.series import AXES
from ..common.sizes import ModelSizes
from .speedup_table import speedup_markdown
from .sweep import Machine


def warnings(m: Machine) -> list[str]:
    out = [
        f"timed regions overlapped: {o['first']} and {o['second']} ran at the same "
        f"time for {o['seconds']:.1f} s, so their times are not clean; rerun them "
        "with nothing else running"
        for o in m.summary["overlaps"]
    ]
    # No warning compares a window's ``threads`` with the request: it is
    # torch.get_num_threads() read right after torch.set_num_threads(request), equal
    # by construction, and a BLAS that fixed its count at load is not asked. The
    # thread variables each process ran with are compared instead (below).
    out += clock_warnings(m.cells, m.labels)
    return out + _thread_variable_warnings(m) + _implausible_warnings(m)


def _thread_variable_warnings(m: Machine) -> list[str]:
    if "thread_variables_as_planned" not in m.cells:
        return []
    off = m.cells[~m.cells["thread_variables_as_planned"].fillna(True).astype(bool)]
    return [
        f"scale {r.scale}, {m.labels.get(r.device, r.device)}: its processes ran with "
        f"the thread variables {r.thread_variables}, not the {r.process_threads} "
        "planned; a BLAS that reads them when it loads ran on other threads than "
        "the report states"
        for r in off.itertuples()
    ]


def _implausible_warnings(m: Machine) -> list[str]:
    if "implausible" not in m.cells:
        return []
    margin = m.manifest["analysis"]["implausible_margin"]
    bad = m.cells[m.cells["implausible"].fillna(False).astype(bool)]
    return [
        f"**implausible**: scale {r.scale} on {m.labels.get(r.device, r.device)}, a "
        f"median step of {fmt_time(r.step_median_s)}, is more than {margin:g}× "
        f"faster than the {fmt_time(r.bound_s)} its hardware needs at least (its "
        f"{_bound_words(r)}): a synchronisation is missing or the measurement is "
        "broken; do not trust this cell"
        for r in bad.itertuples()
    ]


def _bound_words(r) -> str:
    if r.bound_by == "bandwidth":
        return f"{r.bytes_per_step / 1e6:,.1f} MB at the measured copy bandwidth"
    return f"{r.flops_per_step / 1e9:,.3f} GFLOP at the measured matmul throughput"


def refinement(m: Machine) -> list[str]:
    """Each pass of refinement: the sizes or waves of processes it added and why, and
    why it stopped (``refine_pass.py``)."""
    passes = m.manifest.get("refinement") or []
    out = []
    for done in passes:
        for a in done["added"]:
            params = ModelSizes.for_scale(a["scale"]).num_params
            on = f" ({a['curve']})" if a.get("curve") else ""
            what = f"scale {a['scale']}{on} ({fmt_params(params)} parameters)"
            if a["wave"]:
                what = f"wave {a['wave']} of extra processes at scale {a['scale']}{on}"
            out.append(f"Pass {done['pass'] + 1} adds {what}: {a['reason']}.")
        if done["stop"]:
            out.append(f"Refinement stops after pass {done['pass']}: {done['stop']}.")
            stops = done.get("stops") or {}
            if len(set(stops.values())) > 1:
                out += [f"{curve}: stopped, {why}." for curve, why in stops.items()]
    return out


def speedup(m: Machine) -> dict:
    analysis = m.manifest["analysis"]
    notes = _separate_note(m.table, m.manifest["runs"], m.series)
    notes += _disagreeing_notes(m)
    notes += _noisy_note(m) + _switch_note(m) + clock_notes(m.cells, m.labels)
    return {
        "confidence": f"{analysis['confidence']:.0%}",
        "table": speedup_markdown(m.cells, m.table, m.manifest["baseline"])
        if len(m.cells)
        else "No runs.\n",
        "notes": notes,
        "spread_flag": f"{analysis['spread_flag']:.0%}",
    }


def _separate_note(table: pd.DataFrame, runs: list[dict], series=None) -> list[str]:
    """Why this curve's separate scales were timed apart: each one's first run's
    reason (``runs``: its machine's plan's, every curve's and wave's)."""
    separate = sorted(set(table.loc[table["pairing"] != INTERLEAVED, "scale"]))
    if not separate:
        return []
    axes = series.axes if series else {}
    why = {
        r["scale"]: r.get("pairing_reason") or _MEMORY
        for r in runs
        if r.get("wave", 0) == 0
        and all(r.get(a, AXES[a].default) == v for a, v in axes.items())
    }
    by_reason: dict[str, list] = {}
    for scale in separate:
        by_reason.setdefault(why.get(scale, _MEMORY), []).append(scale)
    return [
        f"† Scale{'s' if len(scales) > 1 else ''} {', '.join(map(str, scales))}: "
        f"{reason}, so each device was timed in processes of its own, alternating "
        "with the other devices' processes. No round is paired there: drift "
        "between neighbouring processes is not cancelled, and the interval "
        "(resampling processes, then windows) can understate it."
        for reason, scales in by_reason.items()
    ]


_MEMORY = "the models did not fit in memory together"


def _disagreeing_notes(m: Machine) -> list[str]:
    odd = m.table[m.table["disagreeing"].fillna("").astype(str) != ""]
    return [
        f"‡ Scale {r.scale}, {m.labels.get(r.device, r.device)}: a process "
        f"disagrees with the others ({r.disagreeing}; per-process speedups "
        f"{r.process_speedups.replace(';', ', ')}). It is kept: its rounds are in the "
        "estimate and in the interval, which widens accordingly."
        for r in odd.itertuples()
    ]


def _noisy_note(m: Machine) -> list[str]:
    flagged = m.cells[m.cells["flagged"]]
    if not len(flagged):
        return []
    where = ", ".join(
        f"scale {r.scale} on {m.labels.get(r.device, r.device)} ({r.iqr_rel:.0%})"
        for r in flagged.itertuples()
    )
    limit = m.manifest["analysis"]["spread_flag"]
    return [
        f"⚠ Noisy cells, whose windows' IQR exceeds {limit:.0%} of their median: "
        f"{where}. Their step times are less certain; the paired speedups cancel what "
        "the devices shared."
    ]


def _switch_note(m: Machine) -> list[str]:
    switch = m.cells.dropna(subset=["switch_ratio"])
    if not len(switch):
        return []
    worst = switch.loc[switch["switch_ratio"].idxmax()]
    out = [
        "The first step after switching device or thread count is not timed: it took "
        f"a median {switch['switch_ratio'].median():.2f}× a window's median step (up "
        f"to {worst['switch_ratio']:.2f}× at scale {worst['scale']} on "
        f"{m.labels.get(worst['device'], worst['device'])})."
    ]
    return out + _first_timed_note(m)


# Above this, the first timed step of a window was still paying for the switch.
FIRST_TIMED_LIMIT = 1.25


def _first_timed_note(m: Machine) -> list[str]:
    """Whether the untimed switch steps covered the switch: the first timed step of a
    window against the window's median, on each accelerator."""
    if "first_timed_ratio" not in m.cells:
        return []
    acc = m.cells[m.cells["device"].isin(ACCELERATORS)].dropna(
        subset=["first_timed_ratio"]
    )
    if not len(acc):
        return []
    worst = acc.loc[acc["first_timed_ratio"].idxmax()]
    line = (
        "On the accelerator, the first timed step of a window took a median "
        f"{acc['first_timed_ratio'].median():.2f}× the window's median (up to "
        f"{worst['first_timed_ratio']:.2f}× at scale {worst['scale']})"
    )
    if worst["first_timed_ratio"] > FIRST_TIMED_LIMIT:
        return [
            line + f": above {FIRST_TIMED_LIMIT}×, the switch steps did not cover the "
            "device's warm-up after the other devices' windows; raise "
            "`timing.accelerator_switch_s`."
        ]
    return [line + ": the switch steps covered the switch."]
