"""Every machine's result files, read and checked as they are aggregated
(``aggregate_results.py``), so that a damaged or crafted file can neither crash the
analysis nor pass for a measurement.

Each file must lie where the plans put it (``keys.py``: a plain file inside its
machine's folder) and say what its path says (its rows' run key, scale and
device). Then, machine by machine, each table must have the columns this
machine's own files have (or, without any, ``MINIMAL``), numbers where ours hold
numbers, times that are finite and above zero (``TIMES``), and no two rows of
one window, step, check or probe (``UNIQUE``); and an imported machine's
windows must not be another machine's (a folder copied under a second name). A
machine that fails any of these is left out whole, with a note naming the file,
the column and the value; the others go on.
"""

from __future__ import annotations

import os
import re
import stat
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import keys
from .devices import DEVICES
from .sizes import canonical_scale
from .tables import read_csv

TABLES = ("timings", "steps", "inference", "hardware")

# Measured times and rates: a NaN, a zero or a negative value is not a measurement.
TIMES = {
    "timings": [
        "step_median_s",
        "step_q25_s",
        "step_q75_s",
        "step_min_s",
        "step_max_s",
        "started_at",
        "ended_at",
    ],
    "steps": ["step_s"],
    "inference": [
        "infer_batch_median_s",
        "infer_batch_q25_s",
        "infer_batch_q75_s",
        "started_at",
        "ended_at",
    ],
    "hardware": ["copy_median_s", "bandwidth_Bps", "matmul_median_s", "flops"],
}
# What one row stands for: no two rows of a machine share these.
UNIQUE = {
    "timings": ["scale", "device", "process", "round"],
    "steps": ["run_key", "device", "process", "step"],
    "inference": ["run_key", "device"],  # a size has a run per batch of processes
    "hardware": ["device"],
}
# The columns every file must have even when this machine has none of its own to
# compare with (numbers, and text).
MINIMAL = {
    "timings": (
        ["scale", "params", "process", "round", "slot", "threads", "window_steps"],
        ["run_key", "device", "pairing"],
    ),
    "steps": (["scale", "process", "round", "step"], ["run_key", "device", "kind"]),
    "inference": (["scale", "max_abs_diff", "accuracy"], ["run_key", "device"]),
    "hardware": (["threads", "llc_bytes"], ["device"]),
}
# A window is another machine's if these are: a folder copied under another name.
SAME_WINDOW = ["run_key", "device", "process", "round", "started_at"]


class Bad(ValueError):
    """A machine's file that cannot be aggregated; the message says why."""


@dataclass(frozen=True)
class Where:
    """What a result file's path says it holds."""

    machine: str
    device: str
    key: str
    scale: float | None = None  # a run's file (None: a hardware probe)


def _pattern(template: str) -> re.Pattern:
    """A regex of a ``keys`` path template, each field a named group."""
    groups = {**keys.FIELDS, "device": "|".join(DEVICES)}
    out = ""
    for text, field, _, _ in string.Formatter().parse(template):
        out += re.escape(text)
        if field:
            out += f"(?P<{field}>{groups[field]})"
    return re.compile(out)


RUN_FILE = _pattern(keys.DEVICE_RUN + "/")
HARDWARE_FILE = _pattern(keys.HARDWARE)


def where(path: str) -> Where:
    """The machine, device, key and scale a result file's path names; Bad if it is
    not a plain file inside its machine's folder at a path the plans make."""
    found = HARDWARE_FILE.fullmatch(path)
    if not found:
        run = RUN_FILE.match(path)
        if not run or "/" in path[run.end() :]:
            raise Bad(f"{path} is not a path this workflow writes")
        found = run
    place = found.groupdict()
    folder = keys.MACHINE.format(machine=place["machine"])
    try:
        plain = stat.S_ISREG(os.lstat(path).st_mode)
    except OSError as exc:
        raise Bad(f"{path} cannot be read ({exc.strerror})") from exc
    real = os.path.realpath(path)
    if not plain or not real.startswith(os.path.realpath(folder) + os.sep):
        raise Bad(f"{path} is not a plain file inside {folder}/")
    scale = canonical_scale(place["scale"]) if "scale" in place else None
    return Where(place["machine"], place["device"], place["key"], scale)


def read(path: str) -> tuple[Where, pd.DataFrame]:
    """A result file's rows, tagged with its machine; Bad if it cannot be read or its
    rows are not what its path says."""
    w = where(path)
    try:
        frame = read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise Bad(f"{path} is not a readable CSV table ({first})") from exc
    if frame.empty:
        raise Bad(f"{path} has no rows")
    expected = {"device": w.device}
    if w.scale is not None:
        expected |= {"run_key": w.key, "scale": w.scale}
    for column, value in expected.items():
        if column not in frame:
            raise Bad(f"{path} has no column {column!r}")
        found = set(frame[column].astype(str)) - {str(value)}
        if found:
            raise Bad(
                f"{path}: {column} {sorted(found)[0]!r} in a file of {column} {value!r}"
            )
    frame = frame.assign(machine=w.machine)
    frame.attrs["path"] = path
    return w, frame


def gather(paths: dict[str, list[str]], here: str) -> tuple[dict, list[dict]]:
    """Every table of every machine whose files all pass (this machine, ``here``,
    first), and a note ``{"folder", "reason"}`` for each machine left out."""
    read_ok, left_out = _read_all(paths)
    own = {name: [f for m, f in read_ok.get(name, []) if m == here] for name in TABLES}
    machines = sorted(
        {m for name in TABLES for m, _ in read_ok.get(name, [])} - set(left_out),
        key=lambda m: (m != here, m),
    )
    accepted: list[str] = []
    for machine in machines:
        try:
            for name in TABLES:
                for_machine = [f for m, f in read_ok.get(name, []) if m == machine]
                check_table(name, for_machine, own[name])
            check_not_a_copy(machine, read_ok.get("timings", []), accepted)
            accepted.append(machine)
        except Bad as why:
            left_out[machine] = str(why)
    tables = {
        name: _concat([f for m, f in read_ok.get(name, []) if m in accepted])
        for name in TABLES
    }
    notes = [
        {"folder": keys.MACHINE.format(machine=m), "reason": r}
        for m, r in sorted(left_out.items())
    ]
    return tables, notes


def _read_all(paths: dict[str, list[str]]) -> tuple[dict, dict[str, str]]:
    """Each table's (machine, rows) per file, and the machines a file refused."""
    read_ok: dict[str, list] = {}
    left_out: dict[str, str] = {}
    for name in TABLES:
        for path in paths.get(name, []):
            try:
                w, frame = read(path)
            except Bad as why:
                machine = _machine_of(path)
                left_out.setdefault(machine, str(why))
                continue
            read_ok.setdefault(name, []).append((w.machine, frame))
    return read_ok, left_out


def check_table(name: str, frames: list[pd.DataFrame], own: list[pd.DataFrame]):
    """One machine's files of one table against this machine's own (module
    docstring); Bad with the first problem."""
    if not frames:
        return
    numbers, texts = _columns(name, own)
    for f in frames:
        missing = [c for c in [*numbers, *texts] if c not in f]
        if missing:
            raise Bad(
                f"{f.attrs['path']} lacks the column {missing[0]!r} ({len(missing)} "
                "missing in all: written by another version?)"
            )
    frame = pd.concat(frames, ignore_index=True)
    where_ = f"{frame['machine'].iloc[0]}'s {name}"
    for column in numbers:
        _check_numbers(frame, column, where_)
    for column in TIMES[name]:
        _check_times(frame, column, where_)
    twice = frame[frame.duplicated(UNIQUE[name], keep=False)]
    if len(twice):
        row = twice.iloc[0]
        what = ", ".join(f"{c} {row[c]}" for c in UNIQUE[name])
        raise Bad(f"{where_} hold {len(twice)} rows of one {what}: duplicated rows")


def _columns(name: str, own: list[pd.DataFrame]) -> tuple[list[str], list[str]]:
    """The numeric and the other columns a table must have: those of every one of
    this machine's own files, and at least ``MINIMAL``."""
    numbers, texts = (list(c) for c in MINIMAL[name])
    if own:
        common = set.intersection(*(set(f.columns) for f in own)) - {"machine"}
        kinds = pd.concat(own, ignore_index=True).dtypes
        for column in sorted(common - set(numbers) - set(texts)):
            is_number = pd.api.types.is_numeric_dtype(kinds[column])
            (numbers if is_number else texts).append(column)
    return numbers, texts


def _check_numbers(frame: pd.DataFrame, column: str, where_: str) -> None:
    values = frame[column]
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return
    bad = values[values.notna() & pd.to_numeric(values, errors="coerce").isna()]
    if len(bad):
        raise Bad(f"{where_}: {column} holds {str(bad.iloc[0])[:80]!r}, not a number")


def _check_times(frame: pd.DataFrame, column: str, where_: str) -> None:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        first = float(values[bad][0])
        raise Bad(
            f"{where_}: {column} = {first!r} in {int(bad.sum())} rows; a "
            "measured time must be a finite number above zero"
        )


def check_not_a_copy(machine: str, timings: list, accepted: list[str]) -> None:
    """Bad if this machine's windows are those of a machine already accepted."""
    mine = [f for m, f in timings if m == machine]
    if not mine or not accepted:
        return
    ours = pd.concat(mine, ignore_index=True)[SAME_WINDOW]
    for other in accepted:
        theirs = [f for m, f in timings if m == other]
        if not theirs:
            continue
        same = ours.merge(pd.concat(theirs, ignore_index=True)[SAME_WINDOW])
        if len(same):
            raise Bad(
                f"{len(same)} of its windows are those of "
                f"{keys.MACHINE.format(machine=other)} (same run, device, process, "
                "round and start time): a copy of that folder, not another machine"
            )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _machine_of(path: str) -> str:
    parts = Path(path).parts
    if "machines" in parts and parts.index("machines") + 1 < len(parts):
        return parts[parts.index("machines") + 1]
    return path
