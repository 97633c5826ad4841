"""Crafted and damaged machine folders, each made in a finished project's
results/machines/ from this machine's own folder (``fabricate_machine``): what a
careless copy, an older version or a hostile folder can bring in. ``REFUSED`` maps
each folder's name to a builder and to words the note about it must hold; each
builder gets the project and the folder's name."""

import json
import os
import shutil
from pathlib import Path

import pandas as pd

from sweeplib.tables import read_csv
from workflow_helpers import fabricate_machine, this_machine


def _json(folder: Path, file: str, change) -> None:
    path = folder / file
    obj = json.loads(path.read_text())
    obj = change(obj) or obj
    path.write_text(json.dumps(obj))


def _plan(change):
    def build(project, name):
        _json(fabricate_machine(project, name), "plan.json", change)

    return build


def _text(file, text: str | bytes):
    def build(project, name):
        path = fabricate_machine(project, name) / file
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return build


def _first(folder: Path, name: str) -> Path:
    return sorted(folder.glob(f"runs/*/*/*/{name}"))[0]


def _csv(name: str, change):
    """Change one of the folder's result tables (the first of its kind)."""

    def build(project, folder_name):
        folder = fabricate_machine(project, folder_name)
        path = (
            sorted(folder.glob("hardware/*/*.csv"))[0]
            if name == "hardware"
            else _first(folder, f"{name}.csv")
        )
        frame = read_csv(path)
        frame = change(frame)
        if isinstance(frame, pd.DataFrame):
            frame.to_csv(path, index=False)
        else:
            path.write_bytes(frame)

    return build


def _set(column, value, row=0):
    def change(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return change


def _symlinked_timings(project, name):
    folder = fabricate_machine(project, name)
    target = _first(folder, "timings.csv")
    target.unlink()
    # A local file pulled into the aggregated tables (and the HTML report).
    secret = project / "secret.csv"
    secret.write_text("run_key,secret\nabc,hunter2\n")
    target.symlink_to(secret)


def _symlinked_folder(project, name):
    here = project / "results/machines" / this_machine(project)
    (project / "results/machines" / name).symlink_to(here, target_is_directory=True)


def _elsewhere_paths(project, name):
    # A plan whose folders point at this machine's files (".." and absolute): its own
    # folder has none of them.
    here = this_machine(project)
    folder = fabricate_machine(project, name)
    shutil.rmtree(folder / "runs")

    def point(plan):
        for run in plan["runs"]:
            run["folder"] = run["folder"].replace(name, f"{name}/../{here}")
        for h in plan["hardware"].values():
            h["file"] = str((project / h["file"].replace(name, here)).resolve())

    _json(folder, "plan.json", point)


def _copy_of_here(project, name):
    fabricate_machine(project, name, shift_s=0)


def _fifo(project, name):
    folder = fabricate_machine(project, name)
    target = _first(folder, "inference.csv")
    target.unlink()
    os.mkfifo(target)


def _bad_name(project, name):
    fabricate_machine(project, "tmp-folder-00000000").rename(
        project / "results/machines" / name
    )


def _duplicated_rows(frame):
    return pd.concat([frame, frame.iloc[:1]], ignore_index=True)


def _no_plan_json(project, name):
    (fabricate_machine(project, name) / "plan.json").unlink()


def _no_machine_json(project, name):
    (fabricate_machine(project, name) / "machine.json").unlink()


def _tag_in_machine_json(project, name):
    _json(fabricate_machine(project, name), "machine.json", _set_key("tag", "x-1c"))


def _set_key(key, value):
    def change(obj):
        obj[key] = value

    return change


def _del_key(key):
    def change(obj):
        obj.pop(key, None)

    return change


def _runs(change):
    def each(plan):
        for run in plan["runs"]:
            change(run)

    return _plan(each)


REFUSED = {
    "plan-not-json-00000001": (_text("plan.json", '{"format": 1, "runs": ['), ["JSON"]),
    "plan-a-list-00000002": (_text("plan.json", "[1, 2]"), ["plan.json", "object"]),
    "plan-empty-00000003": (_text("plan.json", ""), ["JSON"]),
    "no-hardware-00000004": (_plan(_del_key("hardware")), ["hardware"]),
    "runs-a-string-00000005": (_plan(_set_key("runs", "abc")), ["runs", "array"]),
    "older-format-00000006": (_plan(_del_key("format")), ["format None"]),
    "newer-format-00000007": (_plan(_set_key("format", 2)), ["format 2"]),
    "other-name-00000008": (_plan(_set_key("machine", "else-00000000")), ["names"]),
    "key-with-dots-00000009": (_runs(_set_key("key", "../../../../x")), ["key"]),
    "device-path-0000000a": (_runs(_set_key("devices", ["/etc"])), ["devices"]),
    "unknown-device-0000000b": (_plan(_set_key("baseline", "tpu")), ["baseline"]),
    "scale-as-text-0000000c": (_runs(_set_key("scale", "1")), ["scale"]),
    "scale-decimals-0000000d": (_runs(_set_key("scale", 1.234)), ["two decimals"]),
    "nan-in-json-0000000e": (
        _text("plan.json", '{"format": 1, "x": NaN}'),
        ["NaN"],
    ),
    "not-utf8-0000000f": (_text("plan.json", b"\xff\xfe{}"), ["JSON"]),
    "no-machine-json-00000010": (_no_machine_json, ["machine.json"]),
    "tag-mismatch-00000011": (_tag_in_machine_json, ["machine.json"]),
    "symlinked-timings-00000012": (_symlinked_timings, ["symbolic link"]),
    "symlinked-folder-00000013": (_symlinked_folder, ["symbolic link"]),
    "elsewhere-paths-00000014": (_elsewhere_paths, ["none of the"]),
    "fifo-00000015": (_fifo, ["not a plain file"]),
    "Bad Name|x": (_bad_name, ["not a machine tag"]),
    "nan-time-00000016": (
        _csv("timings", _set("step_median_s", float("nan"))),
        ["step_median_s", "nan"],
    ),
    "zero-time-00000017": (_csv("steps", _set("step_s", 0.0)), ["step_s", "0.0"]),
    "negative-bandwidth-00000018": (
        _csv("hardware", _set("bandwidth_Bps", -1.0)),
        ["bandwidth_Bps"],
    ),
    "infinite-check-00000019": (
        _csv("inference", _set("infer_batch_median_s", float("inf"))),
        ["infer_batch_median_s", "inf"],
    ),
    "empty-csv-0000001a": (_csv("inference", lambda f: b""), ["not a readable CSV"]),
    "header-only-0000001b": (_csv("timings", lambda f: f.iloc[:0]), ["no rows"]),
    "garbage-csv-0000001c": (
        _csv("steps", lambda f: b"\x00\x01\x02\nzz,\x00\n"),
        ["steps"],
    ),
    "duplicated-rows-0000001d": (_csv("timings", _duplicated_rows), ["duplicated"]),
    "other-run-key-0000001e": (
        _csv("timings", _set("run_key", "0123456789ab")),
        ["run_key", "0123456789ab"],
    ),
    "text-for-number-0000001f": (
        _csv("timings", _set("process", "one")),
        ["process", "'one'"],
    ),
    "missing-column-00000020": (
        _csv("timings", lambda f: f.drop(columns=["threads"])),
        ["threads"],
    ),
    "copy-of-here-00000021": (_copy_of_here, ["a copy of that folder"]),
    "no-plan-00000022": (_no_plan_json, ["plan.json"]),
}


# Accepted, with their text escaped: a machine whose names would break the report.
MARKDOWN = {
    "cpu_model": "Evil | CPU <!-- $\\frac{x ** [link](http://x) `tick`",
    "torch": "2.0 | <b>bold</b>",
}


def _without(pattern):
    """A folder copied without some of its files: what is there is still read."""

    def build(project, name):
        folder = fabricate_machine(project, name)
        for path in sorted(folder.glob(pattern)):
            shutil.rmtree(path) if path.is_dir() else path.unlink()

    return build


def _no_runs(project, name):
    folder = fabricate_machine(project, name)
    shutil.rmtree(folder / "runs")
    _json(folder, "plan.json", _set_key("runs", []))


# Accepted, although damaged: the files that are there are read, the rest left out.
DAMAGED = {
    "no-baseline-at-scale2-000000a1": _without("runs/scale2/*/cpu1"),
    "no-baseline-at-all-000000a2": _without("runs/*/*/cpu1"),
    "no-probes-000000a3": _without("hardware"),
    "no-checks-000000a4": _without("runs/*/*/*/inference.csv"),
    "no-runs-planned-000000a5": _no_runs,
}
MARKDOWN_FOLDER = "markdown-names-000000ff"


def build_all(project: Path) -> dict[str, list[str]]:
    """Every crafted folder, in the project; each one's name, with the words its note
    must hold."""
    made = {}
    for name, (build, words) in REFUSED.items():
        if build is _fifo and not hasattr(os, "mkfifo"):
            continue
        build(project, name)
        made[name] = words
    for name, build in DAMAGED.items():
        build(project, name)
    folder = fabricate_machine(project, MARKDOWN_FOLDER, info=MARKDOWN)
    for timings in folder.glob("runs/*/*/*/timings.csv"):
        frame = read_csv(timings)
        frame["thread_variables"] = "OMP_NUM_THREADS=1 | <!-- hidden"
        frame.to_csv(timings, index=False)
    return made
