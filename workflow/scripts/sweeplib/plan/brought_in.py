"""Other machines' folders, brought in by copying (docs/MACHINES.md): what is checked
before anything in them is read, and where their files are.

A folder copied from elsewhere is untrusted input. Nothing in it may stop this
machine's sweep or report, pull in a file from outside it, or pass for another
machine's results. So, while the workflow is read (``sweep.py``):

- the folder's name must be a machine tag (``machines.machine_tag``) and the
  folder holds plain files and folders only: a symbolic link anywhere in it,
  a FIFO or a device file refuses the folder;
- its ``plan.json`` and ``machine.json`` are bounded (``MAX_JSON_BYTES``,
  ``MAX_DEPTH``, ``MAX_RUNS``, ``MAX_KEYS``), plain JSON (no NaN, no number
  too large to be finite), printable text (``NOT_TEXT``), carry this
  workflow's ``format`` and pass the schemas below (keys of 12 hex digits,
  scales in range, known device names, every field the report reads, ...),
  and agree with each other and with the folder's name;
- the folder is what it says (``identity_problems``): its tag and its hardware
  tags, recomputed from machine.json as ``machines.py`` makes them, are those
  it carries;
- every path of the folder is derived from its name and the plan's keys
  (``keys.RUN``, ``keys.HARDWARE``), never read from its files (a plan's
  ``folder`` and ``file`` entries are ignored), and must resolve inside it.

A folder that fails is left out, with a note naming it and what is wrong
(``left_out``: the manifest carries the notes into the report), in printable
text whatever the folder held (``printable``); so is a folder whose reading
fails in any other way, with the error quoted. The rows of the files that pass
are checked again when they are aggregated (``gather.py``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import stat
import time
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from jsonschema import Draft202012Validator

from ..common import keys
from ..common.devices import ACCELERATORS, DEVICES, INTERLEAVED, PRECISIONS, SEPARATE
from ..common.series import AXES
from ..common.sizes import decimals

# The version of plan.json and machine.json this code writes and reads; an older or
# newer folder is refused (rerun the sweep there with this version).
FORMAT = 1
# A machine tag as ``machines.machine_tag`` makes it: no dots, slashes or spaces.
TAG = r"^[a-z0-9+-]{1,120}$"
KEY = r"^[0-9a-f]{12}$"
HARDWARE_TAG = r"^[0-9a-f]{8}$"
# What is read of a folder is bounded, so that no folder can make the workflow crawl
# or run out of memory or stack (docs/MACHINES.md lists these): a default sweep's
# plan.json is some 20 KB and 5 levels deep, with a few runs.
MAX_JSON_BYTES = 4 * 2**20
MAX_DEPTH = 24
MAX_RUNS = 2000  # runs, skipped scales and configured scales, each
MAX_KEYS = 500  # entries of one mapping (the environment, a config's section)
# Files and folders of one machine's folder (a default sweep writes some 100).
MAX_ENTRIES = 100_000
# Folders within one machine's folder: a sweep's go some 5 deep
# (runs/scale<S>/<key>/<device>/<file>).
MAX_TREE_DEPTH = 16
# A file or folder may be dated at most this long after now (clocks differ a little);
# one dated later stops Snakemake (an output older than its inputs).
MAX_FUTURE_S = 60
# The bytes of all the CSV files of one machine's folder (each is also bounded,
# gather.MAX_CSV_BYTES): what the aggregation reads of it, some 10 s of parsing.
MAX_MACHINE_CSV_BYTES = 256 * 2**20
# Free text from another machine (a CPU's name, a reason) is at most this long.
MAX_TEXT = 1000
# Physical sense: a scale's model of at most some 10^15 parameters, a machine of
# at most 2^20 cores, at most 10^5 processes or waves of them.
MAX_SCALE = 100_000
MAX_PARAMS = 10**15
MAX_CORES = 2**20
MAX_PROCESSES = 100_000

_TEXT = {"type": "string", "maxLength": MAX_TEXT}
_COUNT = {"type": "integer", "minimum": 1, "maximum": MAX_PROCESSES}
_CORES = {"type": "integer", "minimum": 1, "maximum": MAX_CORES}
_PARAMS = {"type": "integer", "minimum": 1, "maximum": MAX_PARAMS}
# A scale as a run's folder names it (a positive number of at most two decimals:
# the decimals are checked in consistency_problems, the folder's name against
# keys.FIELDS in gather.py).
_SCALE = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_SCALE}
_DEVICE = {"enum": list(DEVICES)}
_SCALAR = {"type": ["string", "number", "boolean", "null"], "maxLength": MAX_TEXT}
_DEVICES = {
    "type": "array",
    "items": _DEVICE,
    "minItems": 1,
    "maxItems": len(DEVICES),
}
# (No "uniqueItems": jsonschema compares items pairwise where it cannot sort them,
# quadratic in a list of mappings; consistency_problems checks, by hashing, once
# the items are known to be scalars.)


def _list(items: dict) -> dict:
    return {"type": "array", "items": items, "maxItems": MAX_RUNS}


INFO_SCHEMA = {
    "type": "object",
    "required": ["format", "tag", "cpu_model", "usable_cores", "torch", "accelerators"],
    "maxProperties": MAX_KEYS,
    "properties": {
        "format": {"const": FORMAT},
        "tag": {"type": "string", "pattern": TAG},
        "cpu_model": {**_TEXT, "minLength": 1},
        "usable_cores": _CORES,
        "cpu_count": _CORES,
        "torch": {**_TEXT, "minLength": 1},
        "os": _TEXT,
        "python": _TEXT,
        "accelerators": {
            "type": "object",
            "propertyNames": {"enum": list(ACCELERATORS)},
            "additionalProperties": {**_TEXT, "minLength": 1},
        },
        # What the probe read of each accelerator: its tag is recomputed from these
        # (identity_problems).
        "accelerator_details": {
            "type": "object",
            "propertyNames": {"enum": list(ACCELERATORS)},
            "additionalProperties": {
                "type": "object",
                "required": ["name"],
                "maxProperties": MAX_KEYS,
                "properties": {"name": {**_TEXT, "minLength": 1}},
            },
        },
    },
    "additionalProperties": {"maxProperties": MAX_KEYS},
}

# A series axis's value in a plan: the batch size (samples per step) and the
# precision a run trained in (series.AXES; absent in plans written before them).
_AXES = {
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 10**9},
    "precision": {"enum": list(PRECISIONS)},
}

RUN_SCHEMA = {
    "type": "object",
    "required": ["scale", "key", "devices", "pairing"],
    "properties": {
        "scale": _SCALE,
        "key": {"type": "string", "pattern": KEY},
        "devices": _DEVICES,
        "params": _PARAMS,
        "pairing": {"enum": [INTERLEAVED, SEPARATE]},
        "pairing_reason": _TEXT,
        "processes": _COUNT,
        "wave": {"type": "integer", "minimum": 0, "maximum": MAX_PROCESSES},
        "added": {"type": "boolean"},
        **_AXES,
    },
}

# A pass of refinement, as the report reads it (refine_pass.py writes it).
PASS_SCHEMA = {
    "type": "object",
    "required": ["pass", "added", "stop"],
    "properties": {
        "pass": {"type": "integer", "minimum": 0, "maximum": MAX_RUNS},
        "added": _list(
            {
                "type": "object",
                "required": ["scale", "wave", "reason"],
                "properties": {
                    "scale": _SCALE,
                    "wave": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": MAX_PROCESSES,
                    },
                    "reason": _TEXT,
                    **_AXES,
                },
            }
        ),
        "stop": {"type": ["string", "null"], "maxLength": MAX_TEXT},
        # Each curve's reason to stop, by its axes in words (refine_pass.py).
        "stops": {
            "type": "object",
            "maxProperties": MAX_KEYS,
            "propertyNames": {"maxLength": 100},
            "additionalProperties": {"type": "string", "maxLength": MAX_TEXT},
        },
    },
}

PLAN_SCHEMA = {
    "type": "object",
    "required": [
        "format",
        "machine",
        "info",
        "baseline",
        "devices",
        "scales",
        "runs",
        "skipped",
        "hardware",
        "environment",
    ],
    "maxProperties": MAX_KEYS,
    "properties": {
        "format": {"const": FORMAT},
        "machine": {"type": "string", "pattern": TAG},
        "info": INFO_SCHEMA,
        "baseline": _DEVICE,
        "devices": _DEVICES,
        "scales": _list(_SCALE),
        "runs": _list(RUN_SCHEMA),
        "skipped": _list(
            {
                "type": "object",
                "required": ["scale", "device", "params", "reason"],
                "properties": {
                    "scale": _SCALE,
                    "device": _DEVICE,
                    "params": _PARAMS,
                    "reason": _TEXT,
                    **_AXES,
                },
            }
        ),
        "hardware": {
            "type": "object",
            "propertyNames": _DEVICE,
            "additionalProperties": {
                "type": "object",
                "required": ["key", "device"],
                "properties": {
                    "key": {"type": "string", "pattern": KEY},
                    "device": {
                        "type": "object",
                        "required": ["name", "threads", "hardware", "hardware_tag"],
                        "properties": {
                            "name": _DEVICE,
                            "threads": _CORES,
                            "hardware": {**_TEXT, "minLength": 1},
                            "hardware_tag": {"type": "string", "pattern": HARDWARE_TAG},
                        },
                    },
                },
            },
        },
        # The report lists every entry; it reads cpu_threads_all where its source
        # is given.
        "environment": {
            "type": "object",
            "maxProperties": MAX_KEYS,
            "propertyNames": {"maxLength": 100},
            "properties": {"cpu_threads_all": _CORES},
            "additionalProperties": _SCALAR,
            "dependentRequired": {"cpu_threads_all_source": ["cpu_threads_all"]},
        },
        "refinement": {
            "type": ["array", "null"],
            "items": PASS_SCHEMA,
            "maxItems": 100,
        },
        "analysis": {"type": "object", "maxProperties": MAX_KEYS},
        "config": {"type": "object", "maxProperties": MAX_KEYS},
    },
    "additionalProperties": {"maxProperties": MAX_KEYS},
}


class Refused(ValueError):
    """A machine's folder that is not brought in; the message says why."""


def other_machines(
    machine: str, root: str | os.PathLike = "."
) -> tuple[dict[str, dict], list[dict]]:
    """The plans of the other machines' folders in ``root``/results/machines (each
    checked, its paths derived: ``read_machine``), and a note for each folder left
    out: ``{"folder": ..., "reason": ...}``. Only reads. No folder can raise here:
    whatever goes wrong in reading one (a check this module lacks, a file that
    vanishes) leaves that folder out with the error quoted."""
    base = Path(root) / keys.MACHINE.format(machine="")
    plans, left_out = {}, []
    if not base.is_dir():
        return plans, left_out
    for entry in sorted(base.iterdir()):
        if entry.name == machine or not (entry.is_dir() or entry.is_symlink()):
            continue
        try:
            plans[entry.name] = read_machine(entry, root)
            left_out += absent_results(entry.name, plans[entry.name], root)
        except Refused as why:
            left_out.append(note(_shown(entry, root), str(why)))
        except Exception as exc:  # noqa: BLE001  (any folder's failure is its own)
            left_out.append(
                note(_shown(entry, root), f"reading it failed: {quote(exc)}")
            )
    return plans, left_out


# The result files of a run that the aggregation reads; one not here leaves that
# run's device out of the tables.
RESULTS = ("timings.csv", "inference.csv")


def absent_results(tag: str, plan: dict, root: str | os.PathLike = ".") -> list[dict]:
    """A note for each device of an accepted machine's runs whose results are not
    here as plain files (not copied, or not files): that device's run is left out of
    the tables, and the report says so rather than show it as skipped."""
    out = []
    for run in plan["runs"]:
        for device in run["devices"]:
            folder = keys.DEVICE_RUN.format(
                machine=tag, scale=run["scale"], key=run["key"], device=device
            )
            absent = [n for n in RESULTS if not inside(f"{folder}/{n}", tag, root)]
            if absent:
                out.append(
                    note(
                        folder,
                        f"its plan lists this run, but {' and '.join(absent)} "
                        f"{'is' if len(absent) == 1 else 'are'} not here as a plain "
                        "file (not copied?): this device's run is left out",
                    )
                )
    return out


def note(folder: str, reason: str) -> dict:
    """A note about a folder left out, in text that can be printed and written as
    UTF-8 whatever the folder's name and content held."""
    return {"folder": printable(folder), "reason": printable(reason)}


# Characters that are not text: lone surrogates (a name that is not UTF-8, an
# escaped "\ud800" in JSON), control characters other than tab and line breaks,
# and Unicode's format characters (category Cf: bidi overrides such as U+202E,
# which reverse what follows them, zero-width characters, a BOM).
def _format_characters() -> str:
    found = [c for c in map(chr, range(0x110000)) if unicodedata.category(c) == "Cf"]
    return "".join(re.escape(c) for c in found)


NOT_TEXT = re.compile(
    f"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_format_characters()}]"
)


def printable(text: str) -> str:
    """``text`` with every character that is not printable text escaped, so that it
    can be written as UTF-8 and shown: a byte of a name that was not UTF-8 as
    ``\\xff``, any other as Python writes it (``\\ud800``, ``\\x00``)."""
    return NOT_TEXT.sub(_escape, str(text))


def _escape(found: re.Match) -> str:
    c = found.group()
    if "\udc80" <= c <= "\udcff":  # a byte os.fsdecode could not decode
        return f"\\x{ord(c) - 0xDC00:02x}"
    return ascii(c)[1:-1]


def quote(exc: BaseException, n: int = 300) -> str:
    """An error as a note quotes it: its type and its message, clipped."""
    return printable(f"{type(exc).__name__}: {_clip(exc, n)}")


def read_machine(folder: Path, root: str | os.PathLike = ".") -> dict:
    """A machine's plan, checked (see the module's docstring), with every path
    derived from the folder's name; raise Refused with the reason."""
    tag = folder.name
    if not re.fullmatch(TAG, tag):
        raise Refused(
            f"its name '{printable(tag)}' is not a machine tag (lower-case letters, "
            "digits, '-' and '+' only, as machine_tag writes it)"
        )
    check_plain_tree(folder, root)
    plan = read_json(folder / "plan.json", PLAN_SCHEMA, root)
    info = read_json(folder / "machine.json", INFO_SCHEMA, root)
    problems = consistency_problems(tag, plan, info) or identity_problems(plan, info)
    if problems:
        raise Refused("; ".join(problems))
    if plan["runs"] and not run_files(tag, plan, "timings.csv", root):
        raise Refused(
            f"none of the {len(plan['runs'])} runs its plan.json names has its files "
            "here (copied without its runs/ folder?)"
        )
    return derived_paths(tag, plan)


def check_plain_tree(folder: Path, root: str | os.PathLike = ".") -> None:
    """Refuse a folder that is, or holds, anything but plain files and folders, or
    more entries than a sweep writes (``MAX_ENTRIES``), or folders nested deeper
    than one does (``MAX_TREE_DEPTH``), or more bytes of CSV files than the
    aggregation reads of one machine (``MAX_MACHINE_CSV_BYTES``), or a file or
    folder dated in the future (``MAX_FUTURE_S``: Snakemake refuses to write an
    output older than its inputs, so such a file would stop the aggregation on
    every run). Iterative: no folder's depth can exhaust the stack."""
    if folder.is_symlink():
        raise Refused(f"it is a symbolic link (to {printable(os.readlink(folder))})")
    latest = time.time() + MAX_FUTURE_S
    _check_date(folder, folder.lstat(), latest, root)
    count = csv_bytes = 0
    stack = [(folder, 1)]
    while stack:
        where, depth = stack.pop()
        with os.scandir(where) as found:
            entries = sorted(found, key=lambda e: e.name)
        count += len(entries)
        if count > MAX_ENTRIES:
            raise Refused(
                f"it holds more than {MAX_ENTRIES:,} files and folders (MAX_ENTRIES)"
            )
        for entry in entries:
            path = Path(where) / entry.name
            st = path.lstat()
            mode = st.st_mode
            if stat.S_ISLNK(mode):
                raise Refused(
                    f"{_shown(path, root)} is a symbolic link (to "
                    f"{printable(os.readlink(path))}); a machine's folder is brought "
                    "in with its files, never with links"
                )
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise Refused(f"{_shown(path, root)} is not a plain file or folder")
            _check_date(path, st, latest, root)
            if stat.S_ISDIR(mode):
                if depth > MAX_TREE_DEPTH:
                    raise Refused(
                        f"{_shown(path, root)[:200]} lies {depth} folders deep, more "
                        f"than the {MAX_TREE_DEPTH} a sweep's folder may nest "
                        "(MAX_TREE_DEPTH)"
                    )
                stack.append((path, depth + 1))
            elif entry.name.endswith(".csv"):
                csv_bytes += st.st_size
                if csv_bytes > MAX_MACHINE_CSV_BYTES:
                    raise Refused(
                        f"its CSV files hold more than {MAX_MACHINE_CSV_BYTES:,} "
                        "bytes in all (MAX_MACHINE_CSV_BYTES)"
                    )


def _check_date(path: Path, st: os.stat_result, latest: float, root) -> None:
    """Refuse a file or folder dated after ``latest`` (now and ``MAX_FUTURE_S``): a
    copy that kept the dates of a sender whose clock runs ahead. A date however
    early is fine."""
    if st.st_mtime > latest:
        when = datetime.fromtimestamp(st.st_mtime, UTC)
        # The note names the date, never how far ahead it is: a count that changes
        # every second would change the plan, and so rerun the report, every run.
        raise Refused(
            f"{_shown(path, root)} is dated {when:%Y-%m-%d %H:%M:%S} UTC, in the "
            f"future (more than MAX_FUTURE_S, {MAX_FUTURE_S} s, after the workflow "
            "read it): the sending machine's clock is ahead; copy the folder again "
            "without its dates (rsync -r without -t or -a, cp without -p) or wait "
            "until then"
        )


def read_json(path: Path, schema: dict, root: str | os.PathLike = ".") -> dict:
    """A plan file's content, parsed strictly (at most ``MAX_JSON_BYTES``, finite
    numbers, ``MAX_DEPTH`` levels, printable text) and checked against ``schema``."""
    shown = _shown(path, root)
    if not path.is_file():
        raise Refused(f"it has no {path.name}")
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise Refused(
            f"{shown} has {size:,} bytes, more than the {MAX_JSON_BYTES:,} a plan may "
            "have (MAX_JSON_BYTES)"
        )
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
        obj = json.loads(
            data.decode("utf-8"), parse_constant=_no_nan, parse_float=_finite
        )
    except RecursionError as exc:
        raise Refused(
            f"{shown} is nested deeper than {MAX_DEPTH} levels (MAX_DEPTH)"
        ) from exc
    except (ValueError, OSError) as exc:
        raise Refused(f"{shown} is not valid JSON ({_clip(exc)})") from exc
    problem = shape_problem(obj)
    if problem:
        raise Refused(f"{shown}: {problem}")
    if isinstance(obj, dict) and obj.get("format") != FORMAT:
        raise Refused(
            f"{shown} has format {printable(repr(obj.get('format')))[:80]}, and this "
            f"workflow reads format {FORMAT} only: rerun the sweep there with this "
            "version"
        )
    errors = Draft202012Validator(schema).iter_errors(obj)
    first = min(errors, key=lambda e: e.json_path, default=None)
    if first is not None:
        raise Refused(f"{shown}: {first.json_path}: {_clip(first.message)}")
    return obj


def shape_problem(obj) -> str | None:
    """What makes a parsed document too deep (``MAX_DEPTH``) or its text not text
    (``NOT_TEXT``), or None; iterative, linear in its size."""
    stack = [(obj, 1, "$")]
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            return f"{where}: nested deeper than {MAX_DEPTH} levels (MAX_DEPTH)"
        if isinstance(value, dict):
            if len(value) > MAX_KEYS:
                return (
                    f"{where} has {len(value):,} keys, more than the {MAX_KEYS:,} a "
                    "mapping may have (MAX_KEYS)"
                )
            for k, v in value.items():
                if NOT_TEXT.search(k):
                    return (
                        f"{where}: the key {printable(k)[:80]!r} is not printable text"
                    )
                stack.append((v, depth + 1, f"{where}.{printable(k)[:40]}"))
        elif isinstance(value, list):
            if len(value) > MAX_RUNS:
                return (
                    f"{where} has {len(value):,} entries, more than the {MAX_RUNS:,} "
                    "a list may have (MAX_RUNS)"
                )
            stack.extend((v, depth + 1, f"{where}[{i}]") for i, v in enumerate(value))
        elif isinstance(value, str) and NOT_TEXT.search(value):
            return f"{where}: {printable(value)[:80]!r} is not printable text"
    return None


def consistency_problems(tag: str, plan: dict, info: dict) -> list[str]:
    """What a schema cannot say: the plan agrees with its folder and with itself.
    Linear in the plan's size."""
    problems = [
        f"{name} names the machine {value!r}, not its folder's {tag!r}"
        for name, value in (
            ("plan.json", plan["machine"]),
            ("machine.json", info["tag"]),
            ("plan.json's info", plan["info"]["tag"]),
        )
        if value != tag
    ]
    numbers = [(f"runs[{i}].scale", r["scale"]) for i, r in enumerate(plan["runs"])]
    numbers += [(f"scales[{i}]", n) for i, n in enumerate(plan["scales"])]
    numbers += [
        (f"skipped[{i}].scale", x["scale"]) for i, x in enumerate(plan["skipped"])
    ]
    odd = next(
        ((f, n) for f, n in numbers if isinstance(n, bool) or decimals(n) > 2), None
    )
    if odd:
        problems.append(
            f"plan.json: {odd[0]} is {printable(repr(odd[1]))[:40]}, a scale of more "
            "than two decimals"
        )
    lists = [("devices", plan["devices"]), ("scales", plan["scales"])]
    lists += [(f"runs[{i}].devices", r["devices"]) for i, r in enumerate(plan["runs"])]
    for name, values in lists:
        # By value and type, as uniqueItems compares (1 and 1.0 are one scale).
        if len(set(values)) < len(values):
            problems.append(f"plan.json: {name} names one entry twice")
    devices = set(plan["devices"])
    if "cuda" in devices and str(plan["info"]["torch"]).endswith("+cpu"):
        problems.append(
            f"plan.json runs cuda with torch {printable(plan['info']['torch'])[:40]}, "
            "a build without CUDA"
        )
    if plan["baseline"] not in devices:
        problems.append(f"plan.json: its baseline {plan['baseline']!r} is not run")
    same = ("scale", "wave", *AXES)
    for field, name in ((same, "scale, wave and series"), (("key",), "key")):
        counts = Counter(
            tuple(r.get(f, AXES[f].default if f in AXES else 0) for f in field)
            for r in plan["runs"]
        )
        twice = sorted(v for v, n in counts.items() if n > 1)
        if twice:
            shown = twice[0] if len(field) > 1 else twice[0][0]
            problems.append(f"plan.json: runs share the {name} {shown!r}")
    stray = {d for r in plan["runs"] for d in r["devices"]} - devices
    stray |= {s["device"] for s in plan["skipped"]} - devices
    stray |= set(plan["hardware"]) - devices
    if stray:
        problems.append(f"plan.json names devices it does not run: {sorted(stray)}")
    unprobed = devices - set(plan["hardware"])
    if unprobed:
        problems.append(f"plan.json has no hardware probe of {sorted(unprobed)}")
    return problems


# What a machine's description says that its rows record too (gather.py compares).
DESCRIBED = ("cpu_model", "torch")


def identity_problems(plan: dict, info: dict) -> list[str]:
    """The folder is what its description says: its tag and every device's hardware
    tag, recomputed from machine.json (``machines.py``), are those it carries, and
    plan.json's description is machine.json's."""
    from .machines import accelerator_identity, hardware_tag, machine_tag

    problems = []
    for field in (*DESCRIBED, "usable_cores", "accelerators"):
        if plan["info"].get(field) != info.get(field):
            problems.append(
                f"plan.json's info and machine.json differ in {field}: "
                f"{printable(repr(plan['info'].get(field)))[:80]} against "
                f"{printable(repr(info.get(field)))[:80]}"
            )
    details = info.get("accelerator_details", {})
    if set(details) != set(info["accelerators"]) or any(
        details[d]["name"] != name for d, name in info["accelerators"].items()
    ):
        problems.append(
            "machine.json: its accelerators and their details name different devices"
        )
        return problems
    identities = {d: accelerator_identity(a) for d, a in details.items()}
    expected = machine_tag(info, identities)
    if info["tag"] != expected:
        problems.append(
            f"machine.json describes the machine {expected!r}, not {info['tag']!r}: "
            "its tag is not that of its CPU, cores, torch and accelerators"
        )
    for device, h in plan["hardware"].items():
        d = h["device"]
        if device in ACCELERATORS and device not in identities:
            problems.append(f"plan.json runs {device}, which machine.json lacks")
            continue
        described = info["accelerators"].get(device, info["cpu_model"])
        if d["hardware"] != described:
            problems.append(
                f"plan.json: {device} runs on {printable(d['hardware'])[:80]!r}, but "
                f"machine.json says {printable(described)[:80]!r}"
            )
        identity = identities.get(device, d["hardware"])
        if d["name"] != device or d["hardware_tag"] != hardware_tag(identity, info):
            problems.append(
                f"plan.json: the hardware tag of {device} is not that of its "
                "hardware and machine.json's CPU, cores and torch"
            )
    return problems


def derived_paths(tag: str, plan: dict) -> dict:
    """The plan with every path derived from the folder's name and its keys: what a
    plan's own ``folder`` and ``file`` said is dropped."""
    plan = copy.deepcopy(plan)
    for run in plan["runs"]:
        run["folder"] = keys.RUN.format(machine=tag, scale=run["scale"], key=run["key"])
    for device, h in plan["hardware"].items():
        h["file"] = keys.HARDWARE.format(machine=tag, device=device, key=h["key"])
    return plan


def run_files(tag: str, plan: dict, name: str, root=".") -> list[str]:
    """That file of every device of every run of an imported machine that is here, as
    a plain file inside its folder (those not copied are left out)."""
    paths = [
        keys.DEVICE_RUN.format(machine=tag, scale=r["scale"], key=r["key"], device=d)
        + f"/{name}"
        for r in plan["runs"]
        for d in r["devices"]
    ]
    return [p for p in paths if inside(p, tag, root)]


def hardware_files(tag: str, plan: dict, root=".") -> list[str]:
    """An imported machine's hardware probes that are here."""
    paths = [
        keys.HARDWARE.format(machine=tag, device=d, key=h["key"])
        for d, h in plan["hardware"].items()
    ]
    return [p for p in paths if inside(p, tag, root)]


def inside(path: str, tag: str, root=".") -> bool:
    """Whether ``path`` is a plain file (no link on the way) that resolves inside the
    folder of machine ``tag``."""
    folder = Path(root, keys.MACHINE.format(machine=tag))
    target = Path(root, path)
    try:
        if not stat.S_ISREG(target.lstat().st_mode):
            return False
    except OSError:
        return False
    return os.path.realpath(target).startswith(os.path.realpath(folder) + os.sep)


def _no_nan(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def _clip(exc, n: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _shown(path: Path, root) -> str:
    try:
        return printable(str(Path(path).relative_to(root)))
    except ValueError:
        return printable(str(path))
