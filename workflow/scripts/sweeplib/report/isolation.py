"""Machine by machine: an error in another machine's share of the plots or the report
leaves that machine out, with a note quoting the error, and what is left is drawn
or written; an error in this machine's own share is raised, as before. (The
report's job tries the figures too, so that a machine plot_sweep left out of
them is left out of the report with its note, not drawn in one and missing
from the other.)

The checks (``brought_in.py``, ``gather.py``) are meant to refuse every folder that
could make a later step fail. This is what holds where one was missed: the step is tried
with all machines, and only if it fails, with this machine alone (if that fails,
the error is this machine's, and raised), then with this machine and each other
machine alone, to find the ones at fault (so a sweep of n machines costs one try,
or at most n + 3 where one fails; with one other machine, two). The result of the
try that succeeded is what is used: nothing is drawn or rendered twice.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from typing import TypeVar

import pandas as pd

from ..common import keys
from ..plan.brought_in import note, quote

T = TypeVar("T")


def others(manifest: dict) -> list[str]:
    here = manifest["machine"]
    return [t for t in manifest["plans"] if t != here]


def at_fault(
    try_with: Callable[[set[str]], T],
    machines: list[str],
    what: str,
    discard: Callable[[T], object] = lambda result: None,
) -> tuple[T, list[dict]]:
    """What ``try_with`` makes without the machines among ``machines`` that make it
    fail, and a note about each of those (``try_with`` is called with the set of
    machines to leave out; this machine is never among them, and it is never
    called twice with one set). Raises where this machine alone fails.

    Tried with all machines; only if that fails, with this machine alone: if that
    fails too, the fault is this machine's and its error is raised. Otherwise with
    this machine and each other machine alone: those that fail so are at fault,
    and the rest is tried without them. If nothing fails alone, or the rest still
    fails, the others that fail together are left out with a note saying so.
    ``discard`` disposes of a try's result that is not returned (a figure)."""
    try:
        return try_with(set()), []
    except Exception as exc:  # noqa: BLE001  (found below, machine by machine)
        failed = exc
    everyone = set(machines)
    if not everyone:
        raise failed
    alone = try_with(everyone)  # raises where this machine's own share fails
    notes, faulty, last = [], set(), None
    if len(everyone) > 1:
        for machine in machines:
            try:
                result = try_with(everyone - {machine})
            except Exception as exc:  # noqa: BLE001
                faulty.add(machine)
                notes.append(_note(machine, f"{what}: {quote(exc)}"))
                continue
            if last is not None:
                discard(last[1])
            last = (machine, result)
    else:
        faulty = set(everyone)
        notes.append(_note(machines[0], f"{what}: {quote(failed)}"))
    if faulty == everyone:
        return alone, notes
    if faulty:
        if len(everyone - faulty) == 1:  # that try was made: this and the one left
            discard(alone)
            return last[1], notes
        if last is not None:
            discard(last[1])
        try:
            result = try_with(faulty)
            discard(alone)
            return result, notes
        except Exception as exc:  # noqa: BLE001
            failed = exc
    elif last is not None:
        discard(last[1])
    rest = [m for m in machines if m not in faulty]
    together = ", ".join(keys.MACHINE.format(machine=m) for m in rest)
    for machine in rest:
        notes.append(
            _note(
                machine,
                f"{what} with {together} together (each alone does not fail): "
                f"{quote(failed)}",
            )
        )
    return alone, notes


def _note(machine: str, reason: str) -> dict:
    return note(keys.MACHINE.format(machine=machine), reason)


def tags_of(notes: list[dict]) -> set[str]:
    prefix = keys.MACHINE.format(machine="")
    return {n["folder"].removeprefix(prefix).strip("/") for n in notes}


def leave_out(sweep, machines: set[str], notes: list[dict] = ()):
    """The sweep (``sweep.Sweep``) without ``machines``: their plans, summaries and
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
        "curves": {
            c: s
            for c, s in summary["curves"].items()
            if s["series"]["machine"] not in machines
        },
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
    """The report's figures (``plots.py``, ``frontier_plots.py``: the speedup, the
    step time, the frontier and the speedup map), drawn to the end (as a PNG, in
    memory), without the machines ``out``: what plot_sweep writes. A figure of a
    try that fails is closed; the caller closes those returned (``close``)."""
    import matplotlib.pyplot as plt

    from ..analyse.frontier import frontier_table
    from .frontier_plots import frontier_figure, speedup_map_figure
    from .plots import speedup_figure, step_time_figure
    from .speedup_table import labels_of

    kept = {
        **summary,
        "curves": {
            c: s
            for c, s in summary["curves"].items()
            if s["series"]["machine"] not in out
        },
    }
    if "machine" in cells:
        cells = cells[~cells["machine"].isin(out)]
    if "machine" in table:
        table = table[~table["machine"].isin(out)]
    before = set(plt.get_fignums())
    try:
        frontier = frontier_table(kept, table)
        machines = {c["series"]["machine"] for c in kept["curves"].values()}
        # One machine: the frontier's lines need not name it.
        labels = {**names} if len(machines) > 1 else dict.fromkeys(names, "")
        for _, mine in cells.groupby("machine") if len(cells) else []:
            labels.update(labels_of(mine))
        drawn = [
            speedup_figure(cells, table, kept, post, names),
            step_time_figure(cells, kept, post, names),
            frontier_figure(frontier, labels),
            speedup_map_figure(table, frontier, labels),
        ]
        for fig in drawn:
            fig.savefig(io.BytesIO(), format="png", dpi=120)
    except BaseException:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
        raise
    return drawn


def close(drawn: list) -> None:
    """Close the figures ``figures`` drew (pyplot keeps each open until then)."""
    import matplotlib.pyplot as plt

    for fig in drawn:
        plt.close(fig)


def names_of(manifest: dict) -> dict[str, str]:
    """How the figures name each machine."""
    from ..plan.machines import machine_label

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
        drawn, notes = at_fault(
            lambda out: figures(
                sweep.cells, sweep.table, sweep.summary, sweep.post, names, out
            ),
            others(sweep.manifest),
            "drawing it failed",
            close,
        )
        close(drawn)
        sweep = leave_out(sweep, tags_of(notes), notes)
    text, notes = at_fault(
        lambda out: render(leave_out(sweep, out)),
        others(sweep.manifest),
        "writing its part of the report failed",
    )
    if not notes:  # the first try, with all: the report as written
        return sweep, text
    # Written again with the notes of the machines left out, which it lists.
    sweep = leave_out(sweep, tags_of(notes), notes)
    return sweep, render(sweep)
