"""Other machines' folders, brought in by copying (docs/MACHINES.md): what is checked
before anything in them is read, and where their files are.

A folder copied from elsewhere is untrusted input. Nothing in it may stop this
machine's sweep or report, pull in a file from outside it, or pass for another
machine's results. So, while the workflow is read (``plan.py``):

- the folder's name must be a machine tag (``machines.machine_tag``) and the
  folder holds plain files and folders only: a symbolic link anywhere in it,
  a FIFO or a device file refuses the folder;
- its ``plan.json`` and ``machine.json`` are plain JSON (no NaN), carry this
  workflow's ``format`` and pass the schemas below (keys of 12 hex digits,
  integer scales, known device names, ...), and agree with each other and
  with the folder's name;
- every path of the folder is derived from its name and the plan's keys
  (``keys.RUN``, ``keys.HARDWARE``), never read from its files (a plan's
  ``folder`` and ``file`` entries are ignored), and must resolve inside it.

A folder that fails is left out, with a note naming it and what is wrong
(``left_out``: the manifest carries the notes into the report). The rows of the
files that pass are checked again when they are aggregated (``rows.py``).
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
from pathlib import Path

from jsonschema import Draft202012Validator

from . import keys
from .devices import ACCELERATORS, DEVICES, INTERLEAVED, SEPARATE
from .sizes import decimals

# The version of plan.json and machine.json this code writes and reads; an older or
# newer folder is refused (rerun the sweep there with this version).
FORMAT = 1
# A machine tag as ``machines.machine_tag`` makes it: no dots, slashes or spaces.
TAG = r"^[a-z0-9+-]{1,120}$"
KEY = r"^[0-9a-f]{12}$"
HARDWARE_TAG = r"^[0-9a-f]{8}$"
# Larger plan files are not plans (a default sweep's is some 20 KB).
MAX_JSON_BYTES = 16 * 2**20
# Free text from another machine (a CPU's name, a reason) is at most this long.
MAX_TEXT = 1000

_TEXT = {"type": "string", "maxLength": MAX_TEXT}
_COUNT = {"type": "integer", "minimum": 1}
# A scale as a run's folder names it (a positive number of at most two decimals:
# the decimals are checked in consistency_problems, the folder's name against
# keys.FIELDS in rows.py).
_SCALE = {"type": "number", "exclusiveMinimum": 0}
_DEVICE = {"enum": list(DEVICES)}
_SCALAR = {"type": ["string", "number", "boolean", "null"], "maxLength": MAX_TEXT}

INFO_SCHEMA = {
    "type": "object",
    "required": ["format", "tag", "cpu_model", "usable_cores", "torch", "accelerators"],
    "properties": {
        "format": {"const": FORMAT},
        "tag": {"type": "string", "pattern": TAG},
        "cpu_model": _TEXT,
        "usable_cores": _COUNT,
        "cpu_count": _COUNT,
        "torch": _TEXT,
        "os": _TEXT,
        "python": _TEXT,
        "accelerators": {
            "type": "object",
            "propertyNames": {"enum": list(ACCELERATORS)},
            "additionalProperties": _TEXT,
        },
        "accelerator_details": {"type": "object"},
    },
}

RUN_SCHEMA = {
    "type": "object",
    "required": ["scale", "key", "devices", "pairing"],
    "properties": {
        "scale": _SCALE,
        "key": {"type": "string", "pattern": KEY},
        "devices": {
            "type": "array",
            "items": _DEVICE,
            "minItems": 1,
            "uniqueItems": True,
        },
        "params": _COUNT,
        "pairing": {"enum": [INTERLEAVED, SEPARATE]},
        "pairing_reason": _TEXT,
        "processes": _COUNT,
        "batch": {"type": "integer", "minimum": 0},
        "added": {"type": "boolean"},
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
    "properties": {
        "format": {"const": FORMAT},
        "machine": {"type": "string", "pattern": TAG},
        "info": INFO_SCHEMA,
        "baseline": _DEVICE,
        "devices": {
            "type": "array",
            "items": _DEVICE,
            "minItems": 1,
            "uniqueItems": True,
        },
        "scales": {"type": "array", "items": _SCALE, "uniqueItems": True},
        "runs": {"type": "array", "items": RUN_SCHEMA},
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["scale", "device", "params", "reason"],
                "properties": {
                    "scale": _SCALE,
                    "device": _DEVICE,
                    "params": _COUNT,
                    "reason": _TEXT,
                },
            },
        },
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
                            "threads": _COUNT,
                            "hardware": _TEXT,
                            "hardware_tag": {"type": "string", "pattern": HARDWARE_TAG},
                        },
                    },
                },
            },
        },
        "environment": {
            "type": "object",
            "propertyNames": {"maxLength": 100},
            "additionalProperties": _SCALAR,
        },
        "analysis": {"type": "object"},
        "config": {"type": "object"},
    },
}


class Refused(ValueError):
    """A machine's folder that is not brought in; the message says why."""


def other_machines(
    machine: str, root: str | os.PathLike = "."
) -> tuple[dict[str, dict], list[dict]]:
    """The plans of the other machines' folders in ``root``/results/machines (each
    checked, its paths derived: ``read_machine``), and a note for each folder left
    out: ``{"folder": ..., "reason": ...}``. Only reads."""
    base = Path(root) / keys.MACHINE.format(machine="")
    plans, left_out = {}, []
    if not base.is_dir():
        return plans, left_out
    for entry in sorted(base.iterdir()):
        if entry.name == machine or not (entry.is_dir() or entry.is_symlink()):
            continue
        try:
            plans[entry.name] = read_machine(entry, root)
        except Refused as why:
            left_out.append({"folder": _shown(entry, root), "reason": str(why)})
    return plans, left_out


def read_machine(folder: Path, root: str | os.PathLike = ".") -> dict:
    """A machine's plan, checked (see the module's docstring), with every path
    derived from the folder's name; raise Refused with the reason."""
    tag = folder.name
    if not re.fullmatch(TAG, tag):
        raise Refused(
            f"its name {tag!r} is not a machine tag (lower-case letters, digits, "
            "'-' and '+' only, as machine_tag writes it)"
        )
    check_plain_tree(folder, root)
    plan = read_json(folder / "plan.json", PLAN_SCHEMA, root)
    info = read_json(folder / "machine.json", INFO_SCHEMA, root)
    problems = consistency_problems(tag, plan, info)
    if problems:
        raise Refused("; ".join(problems))
    if plan["runs"] and not run_files(tag, plan, "timings.csv", root):
        raise Refused(
            f"none of the {len(plan['runs'])} runs its plan.json names has its files "
            "here (copied without its runs/ folder?)"
        )
    return derived_paths(tag, plan)


def check_plain_tree(folder: Path, root: str | os.PathLike = ".") -> None:
    """Refuse a folder that is, or holds, anything but plain files and folders."""
    if folder.is_symlink():
        raise Refused(f"it is a symbolic link (to {os.readlink(folder)})")
    for where, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(where) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise Refused(
                    f"{_shown(path, root)} is a symbolic link (to "
                    f"{os.readlink(path)}); a machine's folder is brought in with its "
                    "files, never with links"
                )
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise Refused(f"{_shown(path, root)} is not a plain file or folder")


def read_json(path: Path, schema: dict, root: str | os.PathLike = ".") -> dict:
    """A plan file's content, parsed strictly and checked against ``schema``."""
    shown = _shown(path, root)
    if not path.is_file():
        raise Refused(f"it has no {path.name}")
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise Refused(f"{shown} has {size:,} bytes; a plan has far fewer")
    try:
        obj = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_nan)
    except (ValueError, OSError) as exc:
        raise Refused(f"{shown} is not valid JSON ({_clip(exc)})") from exc
    if isinstance(obj, dict) and obj.get("format") != FORMAT:
        raise Refused(
            f"{shown} has format {obj.get('format')!r}, and this workflow reads "
            f"format {FORMAT} only: rerun the sweep there with this version"
        )
    errors = sorted(
        Draft202012Validator(schema).iter_errors(obj), key=lambda e: e.json_path
    )
    if errors:
        e = errors[0]
        raise Refused(f"{shown}: {e.json_path}: {_clip(e.message)}")
    return obj


def consistency_problems(tag: str, plan: dict, info: dict) -> list[str]:
    """What a schema cannot say: the plan agrees with its folder and with itself."""
    problems = [
        f"{name} names the machine {value!r}, not its folder's {tag!r}"
        for name, value in (
            ("plan.json", plan["machine"]),
            ("machine.json", info["tag"]),
            ("plan.json's info", plan["info"]["tag"]),
        )
        if value != tag
    ]
    numbers = [r["scale"] for r in plan["runs"]] + plan["scales"]
    numbers += [s["scale"] for s in plan["skipped"]]
    if any(isinstance(n, bool) or decimals(n) > 2 for n in numbers):
        problems.append("plan.json: a scale has more than two decimals")
    devices = set(plan["devices"])
    if plan["baseline"] not in devices:
        problems.append(f"plan.json: its baseline {plan['baseline']!r} is not run")
    for field, name in ((("scale", "batch"), "scale and batch"), (("key",), "key")):
        seen = [tuple(r.get(f, 0) for f in field) for r in plan["runs"]]
        twice = sorted({v for v in seen if seen.count(v) > 1})
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


def _clip(exc, n: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _shown(path: Path, root) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)
