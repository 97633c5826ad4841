"""The speedup table as the report prints it, and the devices' labels it and the
figures share."""

from __future__ import annotations

import pandas as pd

from ..common.devices import INTERLEAVED, device_label, device_order
from ..common.formatting import fmt_params, fmt_speedup, fmt_time, markdown_table


def labels_of(cells: pd.DataFrame) -> dict[str, str]:
    return {
        r.device: device_label(r.device, r.threads)
        for r in cells.drop_duplicates("device").itertuples()
    }


def step_cell(c) -> str:
    """A cell's median window with the windows' IQR, ⚠ if it is noisy, and ‼ if it is
    faster than the hardware allows (``analysis.with_bounds``)."""
    spread = f"{fmt_time(c['step_q25_s'])}–{fmt_time(c['step_q75_s'])}"
    marks = (" ⚠" if c["flagged"] else "") + (" ‼" if c.get("implausible") else "")
    return f"{fmt_time(c['step_median_s'])} ({spread}){marks}"


def speedup_markdown(cells: pd.DataFrame, table: pd.DataFrame, baseline: str) -> str:
    """The speedup table: per scale, each device's median window (IQR), each speedup
    with its interval, and the rounds behind it. Marks: ⚠ a noisy cell, † devices
    timed in separate processes, ‡ a process that disagrees with the others."""
    labels = labels_of(cells)
    devices = device_order(cells["device"], baseline)
    rows = []
    for scale, g in cells.groupby("scale"):
        row = {"scale": scale, "params": fmt_params(g["params"].iloc[0])}
        for d in devices:
            c = g[g["device"] == d]
            row[f"{labels[d]} step (IQR)"] = (
                step_cell(c.iloc[0]) if len(c) else "skipped"
            )
        for d in devices[1:]:
            s = table[(table["scale"] == scale) & (table["device"] == d)]
            if not len(s):
                row[f"speedup {labels[d]}"] = "n/a"
                continue
            s = s.iloc[0]
            marks = (" †" if s["pairing"] != INTERLEAVED else "") + (
                " ‡" if isinstance(s["disagreeing"], str) and s["disagreeing"] else ""
            )
            row[f"speedup {labels[d]}"] = (
                fmt_speedup(s["speedup"], s["ci_low"], s["ci_high"]) + marks
            )
        row["rounds (processes)"] = (
            f"{int(g['windows'].iloc[0])} ({int(g['processes'].iloc[0])})"
        )
        rows.append(row)
    return markdown_table(pd.DataFrame(rows))
