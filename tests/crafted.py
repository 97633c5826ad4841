"""Crafted and damaged machine folders, each made in a finished project's
results/machines/ from this machine's own folder (``fabricate_machine``, which
names a folder by the tag of the machine it describes): what a careless copy, an
older version or a hostile folder can bring in. ``REFUSED`` maps each case to a
builder and to words the note about it must hold; each builder gets the project
and the case's name, and returns the name of the folder it made."""

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sweeplib.analyse import gather
from sweeplib.common.tables import read_csv
from sweeplib.plan import brought_in
from workflow_helpers import fabricate_machine, this_machine


def copy_of(finished_project, tmp_path):
    """A scratch copy of the finished tiny sweep, to change."""
    project = tmp_path / "project"
    shutil.copytree(finished_project, project, symlinks=True)
    return project


def _json(folder: Path, file: str, change) -> None:
    path = folder / file
    obj = json.loads(path.read_text())
    obj = change(obj) or obj
    path.write_text(json.dumps(obj))


def _plan(change, file="plan.json"):
    def build(project, name):
        folder = fabricate_machine(project, name)
        _json(folder, file, change)
        return folder.name

    return build


def _text(file, text: str | bytes):
    def build(project, name):
        folder = fabricate_machine(project, name)
        (folder / file).write_bytes(text if isinstance(text, bytes) else text.encode())
        return folder.name

    return build


def _plan_text(change):
    """Change plan.json's text (what json.dumps cannot write: 1e999, a lone
    surrogate's escape)."""

    def build(project, name):
        folder = fabricate_machine(project, name)
        path = folder / "plan.json"
        path.write_text(change(path.read_text()))
        return folder.name

    return build


def _first(folder: Path, name: str) -> Path:
    return sorted(folder.glob(f"runs/*/*/*/{name}"))[0]


def _csv(name: str, change, every=False):
    """Change one of the folder's result tables (the first of its kind, or every
    one)."""

    def build(project, folder_name):
        folder = fabricate_machine(project, folder_name)
        found = (
            sorted(folder.glob("hardware/*/*.csv"))
            if name == "hardware"
            else sorted(folder.glob(f"runs/*/*/*/{name}.csv"))
        )
        for path in found if every else found[:1]:
            frame = change(read_csv(path))
            if isinstance(frame, pd.DataFrame):
                frame.to_csv(path, index=False)
            else:
                path.write_bytes(frame)
        return folder.name

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
    return folder.name


def _symlinked_folder(project, name):
    here = project / "results/machines" / this_machine(project)
    (project / "results/machines" / name).symlink_to(here, target_is_directory=True)
    return name


def _elsewhere_paths(project, name):
    # A plan whose folders point at this machine's files (".." and absolute): its own
    # folder has none of them.
    here = this_machine(project)
    folder = fabricate_machine(project, name)
    shutil.rmtree(folder / "runs")
    tag = folder.name

    def point(plan):
        for run in plan["runs"]:
            run["folder"] = run["folder"].replace(
                folder.name, f"{folder.name}/../{here}"
            )
        for h in plan["hardware"].values():
            h["file"] = str((project / h["file"].replace(tag, here)).resolve())

    _json(folder, "plan.json", point)
    return folder.name


def _copy_of_here(project, name):
    # This machine's measurements under another description, every date an hour
    # later: the step times are this machine's to the last bit.
    return fabricate_machine(project, name, shift_s=3600, factor=1.0).name


def _claims_another(project, name):
    """This machine's folder under another name, its dates an hour later, its
    description claiming another CPU and torch (and a GPU), while its tags and rows
    are this machine's."""
    here = this_machine(project)
    source = project / "results/machines" / here
    there = source.parent / name
    shutil.copytree(source, there)
    claim = {
        "cpu_model": "AMD EPYC 9654",
        "torch": "2.13.0+cu128",
        "accelerators": {"cuda": "NVIDIA H100"},
        "accelerator_details": {"cuda": {"name": "NVIDIA H100"}},
    }
    for file in ("plan.json", "machine.json"):
        obj = json.loads((there / file).read_text().replace(here, name))
        (obj["info"] if file == "plan.json" else obj).update(claim)
        (there / file).write_text(json.dumps(obj))
    for path in there.rglob("*.csv"):  # its dates an hour later
        frame = read_csv(path)
        for column in {"started_at", "ended_at"} & set(frame):
            frame[column] += 3600
        frame.to_csv(path, index=False)
    return name


def _rows_of_here(project, name):
    """An honest description whose rows record this machine's CPU."""
    here = json.loads(
        (
            project / "results/machines" / this_machine(project) / "machine.json"
        ).read_text()
    )
    return _csv("timings", lambda f: f.assign(cpu_model=here["cpu_model"]))(
        project, name
    )


def _fifo(project, name):
    folder = fabricate_machine(project, name)
    target = _first(folder, "inference.csv")
    target.unlink()
    os.mkfifo(target)
    return folder.name


def _renamed(new_name):
    def build(project, name):
        fabricate_machine(project, name).rename(project / "results/machines" / new_name)
        return new_name

    return build


NOT_UTF8 = os.fsdecode(b"not-utf8-\xff\xfe-00000001")


def _not_utf8_name(project, name):
    folder = fabricate_machine(project, name)
    os.rename(
        folder, os.fsencode(project / "results/machines") + b"/" + os.fsencode(NOT_UTF8)
    )
    return NOT_UTF8


def _dated_ahead(project, name):
    """A copy that kept the dates of a sender whose clock runs an hour ahead."""
    folder = fabricate_machine(project, name)
    os.utime(_first(folder, "timings.csv"), (time.time() + 3600,) * 2)
    return folder.name


def _nested_folders(project, name):
    folder = fabricate_machine(project, name)
    deep = folder.joinpath(*["d"] * (brought_in.MAX_TREE_DEPTH + 1))
    deep.mkdir(parents=True)
    return folder.name


def _duplicated_rows(frame):
    return pd.concat([frame, frame.iloc[:1]], ignore_index=True)


def _unpaired(frame):
    """Rounds of a device that pair with no round of the baseline."""
    frame["round"] = frame["round"] + 1000
    return frame


def _no_plan_json(project, name):
    folder = fabricate_machine(project, name)
    (folder / "plan.json").unlink()
    return folder.name


def _no_machine_json(project, name):
    folder = fabricate_machine(project, name)
    (folder / "machine.json").unlink()
    return folder.name


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


def _nested(depth):
    value = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _many_runs(plan):
    run = plan["runs"][0]
    plan["runs"] = [
        {**run, "key": f"{i:012x}", "wave": i} for i in range(brought_in.MAX_RUNS + 1)
    ]


def _hardware_tag(plan):
    for h in plan["hardware"].values():
        h["device"]["hardware_tag"] = "0badcafe"


def _lone_surrogate(text):
    obj = json.loads(text)
    obj["info"]["cpu_model"] = "CPU @@"
    return json.dumps(obj).replace("@@", "\\ud800")


def _inf_scale(text):
    obj = json.loads(text)
    obj["scales"] = [*obj["scales"], 12345]
    return json.dumps(obj).replace("12345", "1e999")


REFUSED = {
    "plan-not-json": (_text("plan.json", '{"format": 1, "runs": ['), ["JSON"]),
    "plan-a-list": (_text("plan.json", "[1, 2]"), ["plan.json", "object"]),
    "plan-empty": (_text("plan.json", ""), ["JSON"]),
    "no-hardware": (_plan(_del_key("hardware")), ["hardware"]),
    "runs-a-string": (_plan(_set_key("runs", "abc")), ["runs", "array"]),
    "older-format": (_plan(_del_key("format")), ["format None"]),
    "newer-format": (_plan(_set_key("format", 2)), ["format 2"]),
    "other-name": (_plan(_set_key("machine", "else-00000000")), ["names"]),
    "key-with-dots": (_runs(_set_key("key", "../../../../x")), ["key"]),
    "device-path": (_runs(_set_key("devices", ["/etc"])), ["devices"]),
    "unknown-device": (_plan(_set_key("baseline", "tpu")), ["baseline"]),
    "scale-as-text": (_runs(_set_key("scale", "1")), ["scale"]),
    "scale-decimals": (_runs(_set_key("scale", 1.234)), ["two decimals"]),
    "nan-in-json": (_text("plan.json", '{"format": 1, "x": NaN}'), ["NaN"]),
    "not-utf8": (_text("plan.json", b"\xff\xfe{}"), ["JSON"]),
    "no-machine-json": (_no_machine_json, ["machine.json"]),
    "tag-mismatch": (_plan(_set_key("tag", "x-1c"), "machine.json"), ["machine.json"]),
    "symlinked-timings": (_symlinked_timings, ["symbolic link"]),
    "symlinked-folder-00000013": (_symlinked_folder, ["symbolic link"]),
    "elsewhere-paths": (_elsewhere_paths, ["none of the"]),
    "fifo": (_fifo, ["not a plain file"]),
    "bad-name": (_renamed("Bad Name|x"), ["not a machine tag"]),
    "nan-time": (
        _csv("timings", _set("step_median_s", float("nan"))),
        ["step_median_s", "nan"],
    ),
    "zero-time": (_csv("steps", _set("step_s", 0.0)), ["step_s", "0.0"]),
    "negative-bandwidth": (
        _csv("hardware", _set("bandwidth_Bps", -1.0)),
        ["bandwidth_Bps"],
    ),
    "infinite-check": (
        _csv("inference", _set("infer_batch_median_s", float("inf"))),
        ["infer_batch_median_s", "inf"],
    ),
    "empty-csv": (_csv("inference", lambda f: b""), ["not a readable CSV"]),
    "header-only": (_csv("timings", lambda f: f.iloc[:0]), ["no rows"]),
    "garbage-csv": (_csv("steps", lambda f: b"\x00\x01\x02\nzz,\x00\n"), ["steps"]),
    "duplicated-rows": (_csv("timings", _duplicated_rows), ["duplicated"]),
    "other-run-key": (
        _csv("timings", _set("run_key", "0123456789ab")),
        ["run_key", "0123456789ab"],
    ),
    "text-for-number": (_csv("timings", _set("process", "one")), ["process", "'one'"]),
    "missing-column": (
        _csv("timings", lambda f: f.drop(columns=["threads"])),
        ["threads"],
    ),
    "no-plan": (_no_plan_json, ["plan.json"]),
    # Issue 23's cases, and more of their kinds.
    "deep-json": (_text("plan.json", "[" * 100_000 + "]" * 100_000), ["MAX_DEPTH"]),
    "deep-free-form": (
        _plan(_set_key("config", _nested(400))),
        ["$.config", "MAX_DEPTH"],
    ),
    "deep-enough": (
        _plan(_set_key("analysis", _nested(brought_in.MAX_DEPTH))),
        ["MAX_DEPTH"],
    ),
    "inf-scale": (_plan_text(_inf_scale), ["1e999", "not a finite number"]),
    "big-scale": (_plan(_set_key("scales", [1, 2, 10**9])), ["$.scales"]),
    "many-runs": (_plan(_many_runs), ["$.runs", "MAX_RUNS"]),
    "big-plan": (
        _text("plan.json", " " * (brought_in.MAX_JSON_BYTES + 1)),
        ["MAX_JSON_BYTES"],
    ),
    "refinement-unknown": (
        _plan(_set_key("refinement", [{"pass": 0}])),
        ["$.refinement[0]", "'added'"],
    ),
    "environment-missing": (
        _plan(lambda p: p["environment"].pop("cpu_threads_all") and None),
        ["cpu_threads_all"],
    ),
    "zero-cores": (
        _plan(_set_key("usable_cores", 0), "machine.json"),
        ["usable_cores"],
    ),
    "lone-surrogate": (_plan_text(_lone_surrogate), ["not printable text"]),
    "control-in-key": (
        _plan(lambda p: p["environment"].update({"a\x1b[2Jb": 1})),
        ["not printable text"],
    ),
    "not-utf8-name": (_not_utf8_name, ["not a machine tag", "\\xff\\xfe"]),
    "blank-threads": (_csv("timings", _set("threads", float("nan"))), ["blank"]),
    "blank-accuracy": (
        _csv("inference", _set("accuracy", float("nan"))),
        ["accuracy", "blank"],
    ),
    "subnormal-step": (
        _csv("timings", lambda f: f.assign(step_median_s=5e-324), every=True),
        ["step_median_s", "5e-324", "RANGES"],
    ),
    "year-3-million": (
        _csv("timings", _set("ended_at", 1e14)),
        ["ended_at", "RANGES"],
    ),
    "zero-params": (_csv("timings", _set("params", 0)), ["params", "RANGES"]),
    "ends-before-start": (
        _csv("inference", lambda f: f.assign(ended_at=f["started_at"] - 1)),
        ["end before they start"],
    ),
    "accuracy-above-one": (
        _csv("inference", _set("accuracy", 1.5)),
        ["accuracy", "RANGES"],
    ),
    "bell-in-node": (_csv("timings", _set("node", "vm\x07")), ["node", "printable"]),
    "unpaired-rounds": (_csv("timings", _unpaired), ["pair"]),
    "odd-pairing": (
        _csv("timings", lambda f: f.assign(pairing="both"), every=True),
        ["pairing 'both'"],
    ),
    "negative-process": (_csv("timings", _set("process", -1)), ["process", "-1"]),
    "endless-step": (_csv("steps", _set("step_s", 1e9)), ["step_s", "RANGES"]),
    "copy-of-here": (_copy_of_here, ["very step times", "a copy of that folder"]),
    "claims-another": (_claims_another, ["describes the machine"]),
    "rows-of-here": (_rows_of_here, ["cpu_model", "machine.json says"]),
    "hardware-tag": (_plan(_hardware_tag), ["hardware tag"]),
    "probe-of-here": (
        _csv("hardware", lambda f: f.assign(device_name="Another CPU")),
        ["hardware", "'Another CPU'"],
    ),
    "negative-check-diff": (
        _csv("inference", _set("max_abs_diff", -1.0)),
        ["max_abs_diff", "-1.0"],
    ),
    "negative-cache": (_csv("hardware", _set("llc_bytes", -1.0)), ["llc_bytes"]),
    "fastest-above-slowest": (
        _csv("timings", lambda f: f.assign(step_min_s=f["step_max_s"] * 2)),
        ["step_min_s", "is above"],
    ),
    "fraction-of-a-round": (_csv("timings", _set("round", 0.5)), ["round", "whole"]),
    "long-text": (_csv("timings", _set("node", "x" * 5000)), ["node", "MAX_TEXT"]),
    "bidi-in-node": (_csv("timings", _set("node", "vm\u202e")), ["node", "printable"]),
    "threads-all-text": (
        _plan(lambda p: p["environment"].update(cpu_threads_all="lots")),
        ["$.environment.cpu_threads_all"],
    ),
    "threads-all-huge": (
        _plan(lambda p: p["environment"].update(cpu_threads_all=1e300)),
        ["$.environment.cpu_threads_all"],
    ),
    "cuda-on-cpu-build": (
        _plan(lambda p: p.update(devices=[*p["devices"], "cuda"])),
        ["a build without CUDA"],
    ),
    "skipped-decimals": (
        _plan(
            lambda p: p["skipped"].append(
                {"scale": 1.234, "device": p["baseline"], "params": 9, "reason": "x"}
            )
        ),
        ["skipped[0].scale is 1.234"],
    ),
    "dated-ahead": (_dated_ahead, ["timings.csv is dated", "in the future"]),
    "nested-folders": (_nested_folders, ["MAX_TREE_DEPTH"]),
    "info-differs": (
        _plan(lambda p: p["info"].update(torch="1.0")),
        ["differ in torch"],
    ),
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
        return folder.name

    return build


def _no_runs(project, name):
    folder = fabricate_machine(project, name)
    shutil.rmtree(folder / "runs")
    _json(folder, "plan.json", _set_key("runs", []))
    return folder.name


def _markdown(project, name):
    folder = fabricate_machine(project, name, info=MARKDOWN)
    for timings in folder.glob("runs/*/*/*/timings.csv"):
        frame = read_csv(timings)
        frame["thread_variables"] = "OMP_NUM_THREADS=1 | <!-- hidden"
        frame.to_csv(timings, index=False)
    return folder.name


def _honest(project, name):
    return fabricate_machine(project, name).name


# Accepted: each builder and whether its rows are read (the files that are there
# are read, the rest left out).
ACCEPTED = {
    "honest": (_honest, True),
    "markdown-names": (_markdown, True),
    "no-baseline-at-scale2": (_without("runs/scale2/*/cpu1"), True),
    "no-baseline-at-all": (_without("runs/*/*/cpu1"), True),
    "no-probes": (_without("hardware"), True),
    "no-checks": (_without("runs/*/*/*/inference.csv"), True),
    "no-runs-planned": (_no_runs, False),
}


@dataclass
class Crafted:
    """What ``build_all`` made: each refused folder's name with the words its note
    must hold, each accepted folder's name by case, and those whose rows are read."""

    refused: dict[str, list[str]]
    accepted: dict[str, str]
    read: set[str]


def build_all(project: Path) -> Crafted:
    """Every crafted folder, in the project."""
    refused, accepted, read = {}, {}, set()
    for case, (build, words) in REFUSED.items():
        if build is _fifo and not hasattr(os, "mkfifo"):
            continue
        refused[build(project, case)] = words
    for case, (build, has_rows) in ACCEPTED.items():
        accepted[case] = build(project, case)
        if has_rows:
            read.add(accepted[case])
    return Crafted(refused, accepted, read)


def rows_of(project: Path, here: str, plans: dict) -> dict:
    """The paths the workflow hands the aggregation: this machine's files and
    those of each imported plan (as common.smk derives them)."""
    manifest = json.loads((project / "results/plan/sweep.json").read_text())
    ours = manifest["plans"][here]
    paths = {
        name: [
            f"{r['folder']}/{d}/{name}.csv" for r in ours["runs"] for d in r["devices"]
        ]
        + [
            p
            for t, plan in plans.items()
            for p in brought_in.run_files(t, plan, name + ".csv")
        ]
        for name in ("timings", "steps", "inference")
    }
    paths["hardware"] = [h["file"] for h in ours["hardware"].values()] + [
        p for t, plan in plans.items() for p in brought_in.hardware_files(t, plan)
    ]
    return paths


def read_in(project: Path, here: str):
    """What the plan (brought_in.py) and then the aggregation (gather.py) make of the
    machines' folders, as the workflow does in the project's folder (the caller
    is there): the plans read, every note, and the tables."""
    plans, left_out = brought_in.other_machines(here)
    manifest = json.loads((project / "results/plan/sweep.json").read_text())
    tables, notes = gather.gather(
        rows_of(project, here, plans), here, {**manifest["plans"], **plans}
    )
    return plans, left_out + notes, tables
