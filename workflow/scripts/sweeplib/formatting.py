"""How numbers and tables are written in the report and the logs."""

from __future__ import annotations

import math

import pandas as pd

from .devices import INTERLEAVED, device_label, device_order
from .sizes import canonical_scale


def finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def fmt_time(s: float) -> str:
    if not finite(s):
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_params(p: float) -> str:
    return f"{p:,.0f}"


def fmt_bw(bps: float) -> str:
    return f"{bps / 1e9:.1f} GB/s" if finite(bps) else "n/a"


def fmt_bytes(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def fmt_speedup(speedup: float, low: float, high: float) -> str:
    return f"{speedup:.2f}x [{low:.2f}, {high:.2f}]"


# Characters that would end a table cell, open an HTML comment or tag, a link, a code
# span, emphasis or GitHub's math, in text that came from another machine's files.
_MARKDOWN = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "\\": "\\\\",
    "|": "\\|",
    "`": "\\`",
    "*": "\\*",
    "[": "\\[",
    "]": "\\]",
    "$": "\\$",
}


def md_text(text) -> str:
    """Text as it reads in markdown and in HTML rendered from it, whatever it holds:
    control characters (line breaks included) become spaces, and markdown's and
    HTML's special characters are escaped. Text without them is unchanged."""
    text = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in str(text))
    return "".join(_MARKDOWN.get(c, c) for c in text)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of a frame's values as they are (format them
    first); a ``scale`` column as its folders name it (3, 1.5: a column of ints and
    floats is a float column)."""
    if "scale" in frame:
        frame = frame.assign(scale=[str(canonical_scale(s)) for s in frame["scale"]])
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


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
