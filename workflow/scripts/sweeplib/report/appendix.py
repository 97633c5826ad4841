"""The reference tables: each machine's environment, and the sections after the
machines: the inference checks, the toy example, the sizes skipped, the runs."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..analyse.analysis import timing_processes
from ..common.formatting import fmt_time, markdown_table
from ..common.series import AXES
from ..measure import toy as toy_example
from .escaping import escaped_tags
from .sweep import Machine, Sweep


def environment(m: Machine) -> list[str]:
    plan, labels = m.manifest, m.labels
    env = dict(plan["environment"])
    source = env.pop("cpu_threads_all_source", None)
    lines = [f"{k}: {v}" for k, v in env.items()]
    if source:
        lines.append(f"`cpu_threads: all` means {env['cpu_threads_all']}: {source}")
    for d in plan["devices"]:
        h = plan["hardware"][d]["device"]
        mine = m.cells[m.cells["device"] == d]
        lines.append(
            f"{labels.get(d, d)}: {h['hardware']}, {h['threads']} CPU "
            f"thread{'s' if h['threads'] != 1 else ''} planned, hardware tag "
            f"`{h['hardware_tag']}`{_variables_of(mine)}"
        )
    return lines


def _variables_of(cells: pd.DataFrame) -> str:
    """The thread variables a device's processes ran with, where recorded."""
    if "thread_variables" not in cells or not len(cells):
        return ""
    ran = sorted(set("; ".join(cells["thread_variables"].astype(str)).split("; ")))
    return "; its processes ran with " + " | ".join(f"`{v}`" for v in ran)


def inference(sweep: Sweep, machines: list[Machine]) -> dict:
    rows = []
    several = len({m.tag for m in machines}) > 1
    for m in machines:
        for r in m.inference.itertuples():
            rows.append(
                {
                    **({"machine": m.label} if several else {}),
                    **({"curve": m.curve} if m.shown else {}),
                    "scale": r.scale,
                    "device": m.labels.get(r.device, r.device),
                    "predictions_equal": r.predictions_equal,
                    "max_abs_diff": f"{r.max_abs_diff:.1e}",
                    "accuracy": f"{r.accuracy:.3f}",
                    "infer_batch_median_s": fmt_time(r.infer_batch_median_s),
                }
            )
    if not rows:
        return {"table": "No checks.\n", "notes": []}
    notes = ["Accuracy near 0.5 is expected: the labels are random, as in the post."]
    diverged = sweep.inference[sweep.inference["nonfinite_logits"] > 0]
    if len(diverged):
        notes.append(
            f"**Diverged training:** {len(diverged)} run(s) ended with non-finite "
            f"logits (scales {', '.join(map(str, sorted(set(diverged['scale']))))}); "
            "their step times are still valid measurements, but lower `lr` to train "
            "them meaningfully."
        )
    return {"table": markdown_table(pd.DataFrame(rows)), "notes": notes}


def toy(sweep: Sweep) -> dict:
    losses = sweep.toy_losses.assign(
        loss=sweep.toy_losses["loss"].map(lambda v: f"{v:.2f}")
    )
    return {
        "table": markdown_table(losses),
        "accuracy": ", ".join(f"{a:.2f}" for a in sweep.toy_evals["accuracy"]),
        "predictions": sweep.toy_predictions["predicted"].tolist(),
        "labels": sweep.toy_predictions["label"].tolist(),
        "protocol": (
            f"seed {toy_example.SEED}, batch {toy_example.BATCH_SIZE}, `drop_last`, "
            f"{toy_example.EPOCHS} epochs, lr {toy_example.LR}"
        ),
    }


def skipped(machines: list[Machine]) -> str:
    rows = [
        {**({"machine": m.label} if len(machines) > 1 else {}), **r}
        for m in machines
        for r in m.manifest["skipped"]
    ]
    # The series axes whose values differ among the rows (a curve skipped at a
    # scale where another runs), beside the scale.
    axes = [a for a in AXES if len({r.get(a, AXES[a].default) for r in rows}) > 1]
    rows = [{**r, **{a: r.get(a, AXES[a].default) for a in axes}} for r in rows]
    columns = ["machine"] * (len(machines) > 1) + [
        "scale",
        *axes,
        "device",
        "params",
        "reason",
    ]
    return markdown_table(pd.DataFrame(rows)[columns]) if rows else ""


RUN_COLUMNS = [
    "machine folder",
    "scale",
    "run_key",
    "devices",
    "pairing",
    "processes",
    "wall",
]


def runs(sweep: Sweep) -> dict:
    t = sweep.timings
    if not len(t):
        return {"table": "No runs.\n", "summary": ""}
    procs = timing_processes(t)
    here = sweep.manifest["machine"]
    mine = procs[procs["machine"] == here]
    start, end = mine["started_at"].min(), mine["ended_at"].max()
    checks = sweep.inference[sweep.inference["machine"] == here]
    if len(checks):
        end = max(end, checks["ended_at"].max())

    def when(x):
        return dt.datetime.fromtimestamp(x, dt.UTC).strftime("%Y-%m-%d %H:%M")

    busy = float((mine["ended_at"] - mine["started_at"]).sum())
    return {
        "table": markdown_table(escaped_tags(run_table(t, procs))[RUN_COLUMNS]),
        "summary": f"On this machine, the timing processes ran {busy:.0f} s in all; "
        f"the runs were measured from {when(start)} to {when(end)} UTC "
        f"({(end - start) / 60:.1f} minutes from the first timing process to the end "
        "of the last check).",
    }


def run_table(timings: pd.DataFrame, procs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its machine, scale, key, devices, pairing, processes, wall."""
    per_run = (
        procs.groupby(["machine", "scale", "run_key", "pairing"])
        .agg(
            processes=("process", "nunique"),
            ended=("ended_at", "max"),
            started=("started_at", "min"),
        )
        .reset_index()
    )
    per_run["wall"] = (per_run["ended"] - per_run["started"]).map(
        lambda s: f"{s:.1f} s"
    )
    devices = timings.groupby("run_key")["device"].agg(
        lambda d: ", ".join(sorted(set(d)))
    )
    per_run["devices"] = per_run["run_key"].map(devices)
    return per_run.rename(columns={"machine": "machine folder"})
