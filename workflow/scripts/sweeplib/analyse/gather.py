"""Every machine's result files, read and checked as they are aggregated
(``aggregate_results.py``), so that a damaged or crafted file can neither crash the
analysis nor pass for a measurement.

Each file must lie where the plans put it (``keys.py``: a plain file inside its
machine's folder) and say what its path says (its rows' run key, scale and
device). Then, machine by machine, each table must have the columns this
machine's own files have (or, without any, ``MINIMAL``), numbers where ours hold
numbers, times that are finite and above zero (``TIMES``), and no two rows of
one window, step, check or probe (``UNIQUE``). An imported machine's files are
bounded (``MAX_CSV_BYTES``, ``MAX_ROWS``, ``MAX_WINDOWS``, ``MAX_CELL_PROCESSES``,
``MAX_MACHINE_WINDOWS``), its numbers never
blank where ours are filled and within physical sense (``RANGES``,
``RANGES_OR_BLANK``), whole where they count (``WHOLE``), in order where they
are a window's order statistics (``ORDERED``), its text printable and at most
``MAX_TEXT`` long, its rows those of the machine its description names (``DESCRIBED``),
its rounds paired; and its windows must not be another machine's, by their
start times or by their step times to the last bit (a folder copied under a
second name, its dates moved or not). A machine that fails any of these is left
out whole, with a note naming the file, the column and the value; the others go
on. Each check is linear, or n log n, in the rows. An error of any other kind in
another machine's files leaves it out too, quoted. In this machine's own files,
a refusal or an error of any kind is raised: this machine's data fails loudly.
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

from ..common import keys
from ..common.devices import DEVICES, INTERLEAVED, SEPARATE
from ..common.series import AXES, with_axes
from ..common.sizes import canonical_scale
from ..common.tables import read_csv
from ..plan.brought_in import MAX_TEXT as MAX_JSON_TEXT
from ..plan.brought_in import NOT_TEXT, note, printable, quote

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
# Physical sense (docs/MACHINES.md): a measured duration lasts at least a
# nanosecond and at most some days (10^6 s), a date lies after 1970 and at most
# 10^11 s later (the year 5138), a rate is at least one per second and at most
# 10^18 (an exaflop).
MIN_TIME_S, MAX_TIME_S = 1e-9, 1e6
MAX_DATE = 1e11
MAX_RATE = 1e18
_DURATION, _DATE, _RATE = (MIN_TIME_S, MAX_TIME_S), (1e-9, MAX_DATE), (1.0, MAX_RATE)
# The range of each measured time, rate and count an imported machine's rows must
# lie in (this machine's own: TIMES above zero only). Each is also a number that
# is never blank.
RANGES = {
    "timings": {
        **dict.fromkeys(TIMES["timings"][:5], _DURATION),
        "started_at": _DATE,
        "ended_at": _DATE,
        "params": (1, 1e15),
        "process": (0, 1e5),
        "round": (0, 1e5),
        "threads": (1, 2**20),
        "window_steps": (1, 1e6),
    },
    "steps": {"step_s": _DURATION, "process": (0, 1e5), "round": (-1, 1e5)},
    "inference": {
        **dict.fromkeys(TIMES["inference"][:3], _DURATION),
        "started_at": _DATE,
        "ended_at": _DATE,
        "accuracy": (0.0, 1.0),
    },
    "hardware": {
        "copy_median_s": _DURATION,
        "matmul_median_s": _DURATION,
        "bandwidth_Bps": _RATE,
        "flops": _RATE,
        "threads": (1, 2**20),
    },
}
# Numbers a sound folder may leave blank, but that lie in range where given: the
# largest difference of a check's logits (NaN-safe, so finite where written), a
# cache's size.
RANGES_OR_BLANK = {
    "inference": {"max_abs_diff": (0.0, np.inf)},
    "hardware": {"llc_bytes": (0, 2**60)},
}
# Counts: whole numbers where given (a blank is for the checks above). Each is
# checked where the table has it.
WHOLE = {
    "timings": [
        "params",
        "process",
        "round",
        "slot",
        "threads",
        "window_steps",
        "threads_requested",
        "epochs",
        "batch_size",
        "num_workers",
        "processes",
        "rounds",
        "warmup_steps",
        "switch_steps",
        "steps_per_window",
        "protocol_steps",
        "eval_batches",
        "cpu_count",
        "usable_cores",
        "trained_steps",
        "peak_rss_bytes",
        "device_peak_bytes",
        "device_end_bytes",
        "mem_estimate_bytes",
        "process_threads",
    ],
    "steps": ["step", "epoch", "round", "slot", "threads", "process"],
    "inference": ["nonfinite_logits", "batches"],
    "hardware": ["threads", "copy_bytes", "matmul_n", "llc_bytes"],
}
# Order statistics of one window or check, in order: each at most the next (with
# ORDER_TOLERANCE of float noise), for those the table has.
ORDERED = {
    "timings": [
        "step_min_s",
        "step_q25_s",
        "step_median_s",
        "step_q75_s",
        "step_max_s",
    ],
    "inference": ["infer_batch_q25_s", "infer_batch_median_s", "infer_batch_q75_s"],
}
ORDER_TOLERANCE = 1e-9
# Text in a table's text column is at most as long as in a plan (brought_in.MAX_TEXT).
MAX_TEXT = MAX_JSON_TEXT
# What is read of one file, and of one machine's windows (docs/MACHINES.md): a
# default sweep's largest file has some 2,000 rows. The bootstrap holds, per scale
# and device, replicates x processes x their most rounds: MAX_WINDOWS bounds the
# last two, MAX_MACHINE_WINDOWS their sum over a machine's scales and devices
# (a folder may list MAX_RUNS scales), so that the bootstrap of one machine costs
# at most some five times that of its largest cell. MAX_CELL_PROCESSES bounds the
# processes of one scale and device: a sweep runs a few (timing.max_processes is
# at most 16 by default; refinement's waves add some).
MAX_CSV_BYTES = 64 * 2**20
MAX_ROWS = 200_000
MAX_WINDOWS = 20_000
MAX_MACHINE_WINDOWS = 100_000
MAX_CELL_PROCESSES = 1000

# What one row stands for: no two rows of a machine share these.
UNIQUE = {
    "timings": [*AXES, "scale", "device", "process", "round"],
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
# Or if its step times are: two machines rarely measure one window's median,
# fastest and slowest step to the last bit, so a folder whose windows share at
# least COPIED of their step times, and at least MIN_COPIED windows, with one
# machine read before is that machine's copy, whatever its dates. (A coincidence
# or two is no copy: a machine of a few windows is not refused for one. Exact
# times are compared: a copy with every time scaled is not found so.)
SAME_TIMES = ["step_median_s", "step_min_s", "step_max_s"]
COPIED = 0.2
MIN_COPIED = 5
# What a machine's rows record of it, as its description (machine.json) says it.
# (Not its usable cores: a job given a smaller cpuset, an srun step on a cluster,
# records its own, docs/CLUSTER.md.)
DESCRIBED = {"cpu_model": "cpu_model", "torch": "torch"}


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
    size = os.path.getsize(path)
    if size > MAX_CSV_BYTES:
        raise Bad(
            f"{path} has {size:,} bytes, more than the {MAX_CSV_BYTES:,} a result file "
            "may have (MAX_CSV_BYTES)"
        )
    try:
        frame = read_csv(path, nrows=MAX_ROWS + 1)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise Bad(f"{path} is not a readable CSV table ({first})") from exc
    if frame.empty:
        raise Bad(f"{path} has no rows")
    if len(frame) > MAX_ROWS:
        raise Bad(f"{path} has more than {MAX_ROWS:,} rows (MAX_ROWS)")
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


def gather(
    paths: dict[str, list[str]], here: str, plans: dict | None = None
) -> tuple[dict, list[dict]]:
    """Every table of every machine whose files all pass (this machine, ``here``,
    first), and a note ``{"folder", "reason"}`` for each machine left out. With
    ``plans`` (the manifest's, by machine), an imported machine's rows must also
    agree with its description. Machine by machine: an error of any kind in another
    machine's files leaves that machine out, quoted; one in this machine's own
    files is raised (a ``Bad`` naming this machine's folder and file), whatever
    other machines there are."""
    read_ok, left_out = _read_all(paths, here)
    own = {name: [f for m, f in read_ok.get(name, []) if m == here] for name in TABLES}
    machines = sorted(
        {m for name in TABLES for m, _ in read_ok.get(name, [])} - set(left_out),
        key=lambda m: (m != here, m),
    )
    accepted: list[str] = []
    seen: dict[str, set] = {}
    for machine in machines:
        try:
            for name in TABLES:
                for_machine = [f for m, f in read_ok.get(name, []) if m == machine]
                check_table(name, for_machine, own[name], machine != here)
            mine = [f for m, f in read_ok.get("timings", []) if m == machine]
            if machine != here:
                check_windows(mine)
                if plans is not None:
                    check_described(machine, plans.get(machine), read_ok)
                    check_pairs(mine, plans[machine]["baseline"])
            check_not_a_copy(machine, read_ok.get("timings", []), accepted)
            seen[machine] = fingerprint(mine)
            check_not_a_copy_of(machine, seen)
            accepted.append(machine)
        except Bad as why:
            if machine == here:  # this machine's own data fails loudly
                raise Bad(f"{keys.MACHINE.format(machine=here)}: {why}") from why
            left_out[machine] = str(why)
            seen.pop(machine, None)
        except Exception as exc:
            if machine == here:
                raise
            left_out[machine] = f"aggregating its rows failed: {quote(exc)}"
            seen.pop(machine, None)
    tables = {
        name: _concat([f for m, f in read_ok.get(name, []) if m in accepted])
        for name in TABLES
    }
    if not tables["timings"].empty:
        tables["timings"] = with_axes(tables["timings"])
    notes = [
        note(keys.MACHINE.format(machine=m), r) for m, r in sorted(left_out.items())
    ]
    return tables, notes


def _read_all(paths: dict[str, list[str]], here: str = "") -> tuple[dict, dict]:
    """Each table's (machine, rows) per file, and the machines a file refused."""
    read_ok: dict[str, list] = {}
    left_out: dict[str, str] = {}
    for name in TABLES:
        for path in paths.get(name, []):
            machine = _machine_of(path)
            if machine in left_out:
                continue
            try:
                w, frame = read(path)
            except Bad as why:
                if machine == here:  # this machine's own file fails loudly
                    raise
                left_out.setdefault(machine, str(why))
                continue
            except Exception as exc:
                if machine == here:
                    raise
                left_out[machine] = f"reading {path} failed: {quote(exc)}"
                continue
            read_ok.setdefault(name, []).append((w.machine, frame))
    return read_ok, left_out


def check_table(
    name: str,
    frames: list[pd.DataFrame],
    own: list[pd.DataFrame],
    imported: bool = False,
):
    """One machine's files of one table against this machine's own (module
    docstring); Bad with the first problem. An imported machine's numbers must
    also be within ``RANGES``, never blank there, nor blank where this machine's
    rows of the same device have numbers in every row (``filled``); and its text
    printable."""
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
    for column in [c for c in TIMES[name] if c in frame]:
        _check_times(frame, column, where_)
    if imported:
        # (A column of RANGES that this machine's files lack too is not asked for.)
        for column in sorted(set(RANGES[name]) & set(frame)):
            lo, hi = RANGES[name][column]
            _check_range(frame, column, lo, hi, where_)
        for column in sorted(set(RANGES_OR_BLANK.get(name, {})) & set(frame)):
            lo, hi = RANGES_OR_BLANK[name][column]
            _check_range(frame, column, lo, hi, where_, blank=True)
        for column in sorted(frame):
            if column.startswith(PER_PRECISION.get(name, ())):
                _check_numbers(frame, column, where_)
                _check_range(frame, column, *_RATE, where_, blank=True)
        for column in [c for c in WHOLE[name] if c in frame]:
            _check_whole(frame, column, where_)
        _check_order(frame, [c for c in ORDERED.get(name, []) if c in frame], where_)
        ours = pd.concat(own, ignore_index=True) if own else pd.DataFrame()
        for device, rows_ in frame.groupby("device"):
            for column in filled(ours, device, numbers):
                _check_filled(rows_, column, device, where_)
        for column in texts:
            _check_text(frame, column, where_)
        if {"started_at", "ended_at"} <= set(frame):
            early = frame["ended_at"] < frame["started_at"]
            if early.any():
                raise Bad(
                    f"{where_}: {int(early.sum())} rows end before they start "
                    "(ended_at < started_at)"
                )
    unique = [c for c in UNIQUE[name] if c in frame]  # (an axis older rows lack)
    twice = frame[frame.duplicated(unique, keep=False)]
    if len(twice):
        row = twice.iloc[0]
        what = ", ".join(f"{c} {row[c]}" for c in unique)
        raise Bad(f"{where_} hold {len(twice)} rows of one {what}: duplicated rows")


# Numbers that a sound folder may leave blank or infinite whatever this machine's
# rows hold: a cache size where it is unknown, the difference of a check whose
# logits were not finite; and what its configuration, not a fault, leaves blank
# where ours is filled (docs/COLUMNS.md): the step after a switch with
# ``switch_steps: 0`` (set per scale too), the warm-up with ``warmup_steps: 0``,
# the evaluation where the process that saved the model ran none, and an
# accelerator allocator's figures where they do not exist. The analysis reads
# each of these as missing (a median of none, a blank cell).
# Columns a machine's files have for each precision its sweep trained in besides
# float32 (a probe's ``flops_bfloat16``): another machine that swept float32 only
# lacks them, and is no less sound for it. Where given, they lie in their range.
PER_PRECISION = {"hardware": ("flops_",)}

MAY_BE_BLANK = {
    "llc_bytes",
    "max_abs_diff",
    "switch_step_s",
    "warmup_s",
    "eval_s",
    "eval_batches",
    "final_accuracy",
    "device_peak_bytes",
    "device_end_bytes",
}


def filled(ours: pd.DataFrame, device: str, numbers: list[str]) -> list[str]:
    """The numeric columns that this machine's rows of ``device`` hold a finite
    number in, in every row (none where it has no rows of that device)."""
    if "device" not in ours:
        return []
    mine = ours[ours["device"] == device]
    if mine.empty:
        return []
    out = []
    for column in numbers:
        if column in MAY_BE_BLANK or column not in mine:
            continue
        values = mine[column]
        if pd.api.types.is_bool_dtype(values.dtype):
            continue
        values = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if np.isfinite(values).all():
            out.append(column)
    return out


def _columns(name: str, own: list[pd.DataFrame]) -> tuple[list[str], list[str]]:
    """The numeric and the other columns a table must have: those of every one of
    this machine's own files (but ``PER_PRECISION``'s), and at least ``MINIMAL``."""
    numbers, texts = (list(c) for c in MINIMAL[name])
    if own:
        common = set.intersection(*(set(f.columns) for f in own)) - {"machine"}
        common = {c for c in common if not c.startswith(PER_PRECISION.get(name, ()))}
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
        raise Bad(
            f"{where_}: {column} holds {printable(str(bad.iloc[0])[:80])!r}, not a "
            "number"
        )


def _check_times(frame: pd.DataFrame, column: str, where_: str) -> None:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        first = float(values[bad][0])
        raise Bad(
            f"{where_}: {column} = {first!r} in {int(bad.sum())} rows; a "
            "measured time must be a finite number above zero"
        )


def _check_range(
    frame, column: str, lo: float, hi: float, where_: str, blank: bool = False
) -> None:
    """A column of numbers, none blank (unless ``blank``: RANGES_OR_BLANK), none
    infinite, none outside [lo, hi] (RANGES)."""
    values = frame[column]
    if pd.api.types.is_bool_dtype(values):
        return
    values = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < lo) | (values > hi)
    if blank:
        bad &= ~np.isnan(values)
    if bad.any():
        first = float(values[bad][0])
        what = "blank" if np.isnan(first) else repr(first)
        table = "RANGES_OR_BLANK: or blank" if blank else "RANGES"
        raise Bad(
            f"{where_}: {column} is {what} in {int(bad.sum())} rows; it must be a "
            f"finite number from {lo:g} to {hi:g} ({table})"
        )


def _check_whole(frame, column: str, where_: str) -> None:
    """A column of counts: whole numbers where given (WHOLE)."""
    values = frame[column]
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
        return
    values = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(values)
    bad = np.zeros_like(finite)
    bad[finite] = values[finite] != np.floor(values[finite])
    if bad.any():
        raise Bad(
            f"{where_}: {column} is {float(values[bad][0])!r} in {int(bad.sum())} "
            "rows; a count must be a whole number (WHOLE)"
        )


def _check_order(frame, columns: list[str], where_: str) -> None:
    """Order statistics of one row in order, each at most the next (ORDERED), up to
    ORDER_TOLERANCE of the larger."""
    for low, high in zip(columns, columns[1:], strict=False):
        a = pd.to_numeric(frame[low], errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(frame[high], errors="coerce").to_numpy(dtype=float)
        bad = a > b + ORDER_TOLERANCE * np.abs(b)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise Bad(
                f"{where_}: {low} {float(a[i])!r} is above {high} {float(b[i])!r} in "
                f"{int(bad.sum())} rows; a window's statistics must lie in order "
                f"({' <= '.join(columns)}: ORDERED)"
            )


def _check_filled(frame, column: str, device: str, where_: str) -> None:
    """A column of finite numbers where this machine's rows of ``device`` have one
    in every row (``filled``)."""
    values = frame[column]
    if pd.api.types.is_bool_dtype(values):
        return
    values = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        first = float(values[bad][0])
        what = "blank" if np.isnan(first) else repr(first)
        raise Bad(
            f"{where_}: {column} is {what} in {int(bad.sum())} rows of {device}, "
            f"where this machine's rows of {device} hold a number in every row "
            "(only the columns MAY_BE_BLANK may be blank)"
        )


def _check_text(frame, column: str, where_: str) -> None:
    """A column of printable text (no control or format characters, no lone
    surrogates: NOT_TEXT), each at most MAX_TEXT characters."""
    values = frame[column]
    text = values[values.notna()].astype(str)
    long = text[text.str.len() > MAX_TEXT]
    if len(long):
        raise Bad(
            f"{where_}: {column} holds {len(long.iloc[0]):,} characters "
            f"({printable(long.iloc[0][:40])!r}...), more than the {MAX_TEXT:,} a "
            "text field may have (MAX_TEXT)"
        )
    bad = text[text.str.contains(NOT_TEXT, regex=True)]
    if len(bad):
        raise Bad(
            f"{where_}: {column} holds {printable(bad.iloc[0])[:80]!r}, which is not "
            "printable text"
        )


def check_windows(timings: list[pd.DataFrame]) -> None:
    """Bad if an imported machine has more windows than the analysis is sized for:
    a scale and device with more than MAX_CELL_PROCESSES processes, or more than
    MAX_WINDOWS windows (its processes times their most rounds), or all its scales
    and devices together more than MAX_MACHINE_WINDOWS."""
    if not timings:
        return
    frame = with_axes(pd.concat(timings, ignore_index=True))
    cell = ["scale", "device", *AXES]
    per = frame.groupby([*cell, "process"]).size()
    cells = per.groupby(level=cell).agg(["size", "max"])
    crowded = cells["size"] > MAX_CELL_PROCESSES
    if crowded.any():
        scale, device, *_ = at = cells.index[crowded.to_numpy()][0]
        raise Bad(
            f"scale {scale}, {device}: {int(cells.loc[at, 'size']):,} "
            f"processes, more than the {MAX_CELL_PROCESSES:,} a scale and device may "
            "have (MAX_CELL_PROCESSES)"
        )
    load = cells["size"] * cells["max"]
    if (load > MAX_WINDOWS).any():
        scale, device, *_ = at = load[load > MAX_WINDOWS].index[0]
        c = cells.loc[at]
        raise Bad(
            f"scale {scale}, {device}: {int(c['size'])} processes of up to "
            f"{int(c['max'])} rounds, more than the {MAX_WINDOWS:,} windows "
            "(processes x rounds) a scale and device may have (MAX_WINDOWS)"
        )
    total = int(load.sum())
    if total > MAX_MACHINE_WINDOWS:
        raise Bad(
            f"{total:,} windows (processes x rounds) over its {len(load):,} scales "
            f"and devices, more than the {MAX_MACHINE_WINDOWS:,} a machine may have "
            "(MAX_MACHINE_WINDOWS)"
        )


def check_described(machine: str, plan: dict | None, read_ok: dict) -> None:
    """Bad if an imported machine's rows are not of the machine its description
    (machine.json, as its plan holds it) says: another CPU or torch, other
    devices, or hardware tags other than its plan's (its windows and its probes)."""
    if plan is None:
        raise Bad("it has rows but no plan")
    info = plan["info"]
    frames = [
        f
        for name in ("timings", "hardware")
        for m, f in read_ok.get(name, [])
        if m == machine
    ]
    for frame in frames:
        path = frame.attrs.get("path", machine)
        for column, field in DESCRIBED.items():
            if column not in frame:
                continue
            found = set(frame[column].astype(str)) - {str(info[field])}
            if found:
                raise Bad(
                    f"{path}: {column} {printable(sorted(found)[0])[:80]!r}, but "
                    f"machine.json says {printable(str(info[field]))[:80]!r}"
                )
        pairings = frame["pairing"] if "pairing" in frame else pd.Series(dtype=str)
        odd = set(pairings.astype(str)) - {INTERLEAVED, SEPARATE}
        if odd:
            raise Bad(
                f"{path}: pairing {printable(sorted(odd)[0])[:80]!r} is no pairing"
            )
        for device, rows in frame.groupby("device"):
            if device not in plan["hardware"]:
                raise Bad(f"{path}: device {device!r} is not one its plan runs")
            tag = plan["hardware"][device]["device"]["hardware_tag"]
            if "hardware_tag" in rows and set(rows["hardware_tag"].astype(str)) != {
                tag
            }:
                raise Bad(
                    f"{path}: the hardware tag of {device} is not its plan's {tag!r}"
                )
            name = plan["hardware"][device]["device"]["hardware"]
            if "device_name" in rows and set(rows["device_name"].astype(str)) != {name}:
                found = sorted(set(rows["device_name"].astype(str)) - {name})[0]
                raise Bad(
                    f"{path}: {device} is {printable(found)[:80]!r}, but its plan "
                    f"says {printable(name)[:80]!r}"
                )


def check_pairs(timings: list[pd.DataFrame], baseline: str) -> None:
    """Bad if, at an interleaved scale where both ran, a device's rounds are not
    the baseline's: a round that pairs with nothing is no measurement of a speedup."""
    if not timings:
        return
    frame = pd.concat(timings, ignore_index=True)
    frame = frame[frame["pairing"] == INTERLEAVED]
    for (scale, _), at in frame.groupby(["scale", "run_key"]):
        rounds = {
            device: set(zip(g["process"], g["round"]))
            for device, g in at.groupby("device")
        }
        if baseline not in rounds:
            continue
        for device, mine in rounds.items():
            odd = mine ^ rounds[baseline]
            if odd:
                process, round_ = sorted(odd)[0]
                raise Bad(
                    f"scale {scale}: {len(odd)} rounds of {device} or {baseline} "
                    f"(process {process}, round {round_} first) pair with no window "
                    "of the other, in an interleaved run"
                )


def fingerprint(timings: list[pd.DataFrame]) -> set:
    """A machine's windows by what they measured: each window's device and step
    times, to the last bit."""
    if not timings:
        return set()
    frame = pd.concat(timings, ignore_index=True)
    columns = ["device", *[c for c in SAME_TIMES if c in frame]]
    return set(frame[columns].itertuples(index=False, name=None))


def check_not_a_copy_of(machine: str, seen: dict[str, set]) -> None:
    """Bad if at least ``COPIED`` of this machine's windows, and at least
    ``MIN_COPIED``, measured exactly what a machine read before did (a copy,
    whatever its dates): linear, by hashing."""
    mine = seen[machine]
    for other, theirs in seen.items():
        if other == machine or not mine:
            continue
        same = len(mine & theirs)
        if same >= max(MIN_COPIED, COPIED * len(mine)):
            raise Bad(
                f"{same} of its {len(mine)} windows have the very step times of "
                f"{keys.MACHINE.format(machine=other)}: a copy of that folder, not "
                "another machine"
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
