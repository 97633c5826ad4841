"""How numbers and tables are written in the report and the logs."""

from __future__ import annotations

import math

import pandas as pd

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
