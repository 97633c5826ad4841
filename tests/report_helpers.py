"""Hand-made sweeps rendered as write_report renders them, for the tests of the
report (test_report.py) and of what other machines bring in (test_imports.py)."""

import json

import pandas as pd

from sweeplib.analyse.analysis import analyse_curves
from sweeplib.common.tables import read_csv
from sweeplib.report.document import render
from sweeplib.report.sweep import Sweep
from synthetic import hardware, inference, plan, windows
from workflow_helpers import ROOT

POST = read_csv(ROOT / "data" / "post_table.csv")
ANALYSIS = {
    "bootstrap": 200,
    "confidence": 0.95,
    "spread_flag": 0.1,
    "model_miss_flag": 0.25,
    "implausible_margin": 3.0,
    "seed": 0,
}


SKIPPED = {
    "scale": 400,
    "params": 14400360002,
    "reason": "needs about 107.40 GiB of host memory, 20.00 GiB available",
}


def build(
    devices,
    baseline,
    scales=(1, 3, 5, 10, 50),
    pairing="interleaved",
    overlap=False,
    others=(),
    tamper=None,
    post=None,
    runs_reason="",
):
    """A report of a hand-made sweep on this machine (and on ``others``: (machine,
    devices, baseline) each), as write_report renders it."""
    machines = [("here", devices, baseline), *others]
    w = pd.concat(
        [
            windows(d, list(scales), noise=0.02, pairing=pairing, tag=h)
            for h, d, _ in machines
        ]
    )
    if tamper:
        w = tamper(w)
    hw = pd.concat([hardware(d, machine=h) for h, d, _ in machines])
    inf = pd.concat([inference(d, scales, machine=h) for h, d, _ in machines])
    if overlap:  # the first check ran during a hardware probe
        inf.loc[inf.index[0], ["started_at", "ended_at"]] = [0.5, 1.5]
    plans = {h: plan(d, b, scales, machine=h, cpu=f"{h} CPU") for h, d, b in machines}
    plans["here"]["skipped"] = [{**SKIPPED, "device": devices[-1]}]
    plans["here"]["runs"] = [
        {"scale": s, "pairing_reason": runs_reason} for s in scales
    ]
    manifest = {"machine": "here", "plans": plans, "analysis": ANALYSIS}
    cells, table, summary = analyse_curves(w, inf, hw, manifest)
    summary = json.loads(json.dumps(summary))  # as the report reads analysis.json
    toy = (
        pd.DataFrame({"epoch": [1], "batch": [1], "loss": [0.75]}),
        pd.DataFrame({"accuracy": [1.0]}),
        pd.DataFrame({"label": [0, 1], "predicted": [0, 1]}),
    )
    sweep = Sweep(
        manifest,
        cells,
        table,
        summary,
        inf,
        hw,
        w,
        *toy,
        POST if post is None else post,
        "abc123def456",
    )
    names = {h: f"{h} CPU" for h, _, _ in machines}
    return render(sweep), cells, table, summary, names


def curve_of(summary: dict, machine: str) -> dict:
    """A machine's only curve in an analysis summary (one batch size, one precision)."""
    (found,) = [
        c for c in summary["curves"].values() if c["series"]["machine"] == machine
    ]
    return found


def machines_of(summary: dict) -> set[str]:
    """The machines whose curves an analysis summary holds."""
    return {c["series"]["machine"] for c in summary["curves"].values()}
