"""Machine by machine: an error in another machine's share of the plots or the report
leaves that machine out, with a note quoting the error, and what is left is drawn
or written; an error in this machine's own share is raised, as before. (The
report's job tries the figures too, so that a machine plot_sweep left out of
them is left out of the report with its note, not drawn in one and missing
from the other.)

The checks (``imports.py``, ``rows.py``) are meant to refuse every folder that could
make a later step fail. This is what holds where one was missed: the step is tried
with all machines, and only if it fails, with this machine and each other machine
alone, to find the ones at fault (so a sweep of n machines costs one try, or n + 2
where one fails).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable

import pandas as pd

from . import keys
from .imports import note, quote


def others(manifest: dict) -> list[str]:
    here = manifest["machine"]
    return [t for t in manifest["plans"] if t != here]


def at_fault(
    try_with: Callable[[set[str]], object], machines: list[str], what: str
) -> list[dict]:
    """The notes about the machines among ``machines`` that make ``try_with`` fail
    (it is called with the set of machines to leave out; this machine is never
    among them): none if it succeeds with all of them."""
    try:
        try_with(set())
        return []
    except Exception:  # noqa: BLE001  (found below, machine by machine)
        pass
    notes = []
    for machine in machines:
        try:
            try_with(set(machines) - {machine})
        except Exception as exc:  # noqa: BLE001
            notes.append(
                note(keys.MACHINE.format(machine=machine), f"{what}: {quote(exc)}")
            )
    return notes


def tags_of(notes: list[dict]) -> set[str]:
    prefix = keys.MACHINE.format(machine="")
    return {n["folder"].removeprefix(prefix).strip("/") for n in notes}


def leave_out(sweep, machines: set[str], notes: list[dict] = ()):
    """The sweep (``report.Sweep``) without ``machines``: their plans, summaries and
    rows dropped, ``notes`` added to those of the folders left out."""
    if not machines and not notes:
        return sweep
    changes = {}
    for field in dataclasses.fields(sweep):
        value = getattr(sweep, field.name)
        if isinstance(value, pd.DataFrame) and "machine" in value:
            changes[field.name] = value[~value["machine"].isin(machines)]
    manifest = sweep.manifest
    changes["manifest"] = {
        **manifest,
        "plans": {t: p for t, p in manifest["plans"].items() if t not in machines},
    }
    summary = sweep.summary
    changes["summary"] = {
        **summary,
        "machines": {t: s for t, s in summary["machines"].items() if t not in machines},
    }
    before = sweep.left_out
    added = pd.DataFrame(list(notes), columns=["folder", "reason"])
    changes["left_out"] = (
        added
        if before is None or not len(before)
        else pd.concat([before, added], ignore_index=True)
    )
    return dataclasses.replace(sweep, **changes)


def figures(cells, table, summary, post, names, out: set[str] = frozenset()) -> list:
    """Both figures of the report (``plots.py``), drawn to the end (as a PNG, in
    memory), without the machines ``out``: what plot_sweep writes."""
    from .plots import speedup_figure, step_time_figure

    kept = {
        **summary,
        "machines": {t: s for t, s in summary["machines"].items() if t not in out},
    }
    if "machine" in cells:
        cells = cells[~cells["machine"].isin(out)]
    if "machine" in table:
        table = table[~table["machine"].isin(out)]
    drawn = [
        speedup_figure(cells, table, kept, post, names),
        step_time_figure(cells, kept, post, names),
    ]
    for fig in drawn:
        fig.savefig(io.BytesIO(), format="png", dpi=120)
    return drawn


def names_of(manifest: dict) -> dict[str, str]:
    """How the figures name each machine."""
    from .machines import machine_label

    return {t: machine_label(p["info"]) for t, p in manifest["plans"].items()}


def isolated_report(sweep, render: Callable, draw: bool = False) -> tuple[object, str]:
    """The sweep as written, and the report: first without the machines the
    analysis left out (its summary's ``left_out``), then (with ``draw``) without
    those whose share of the figures cannot be drawn (as plot_sweep leaves them
    out), then without those whose share makes ``render`` fail. Raises where
    this machine's own share does."""
    analysed = list(sweep.summary.get("left_out", []))
    sweep = leave_out(sweep, tags_of(analysed), analysed)
    if draw:
        names = names_of(sweep.manifest)
        drawn = at_fault(
            lambda out: figures(
                sweep.cells, sweep.table, sweep.summary, sweep.post, names, out
            ),
            others(sweep.manifest),
            "drawing it failed",
        )
        sweep = leave_out(sweep, tags_of(drawn), drawn)
    notes = at_fault(
        lambda out: render(leave_out(sweep, out)),
        others(sweep.manifest),
        "writing its part of the report failed",
    )
    sweep = leave_out(sweep, tags_of(notes), notes)
    return sweep, render(sweep)
