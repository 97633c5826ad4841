"""The two clocks of a timed window on an accelerator, and when they disagree
(docs/METHOD.md, "Two clocks"). No torch here: the analysis uses it.

``host_window_s`` is the host's wall time from before the window's start event
is recorded to after its end event is; ``device_window_s`` is the device's time
from reaching the one event to reaching the other (``timing.timed_window``).
The queue is drained before the window, so without a fault both span the same
stretch and differ only by the two events' launch latencies and the host reading
its clock beside each record: microseconds on CUDA. A synchronisation that
returns before the device has finished leaves the last step's queued work
outside the host's window and inside the device's: the host's window is the
shorter, by about one step's device work in n (10% with 10 device-bound steps
per window).

``clock_problem`` needs neither torch nor pandas: the prepared check for a machine
with a GPU (benchmarks/accelerator_check.py) runs where only torch and numpy are
installed. pandas and ``formatting`` are imported by the functions that read a
table.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# A window is flagged when its clocks differ by more than this share of the longer
# one, and by more than ``CLOCK_MARGIN_S``: far above the microseconds the two
# events' latencies differ by, and a busy host's scheduling hiccup; below the 10%
# a missing synchronisation leaves out of a window of 10 device-bound steps.
CLOCK_MARGIN = 0.05
CLOCK_MARGIN_S = 1e-4


def clock_problem(host_s: float, device_s: float) -> str | None:
    """What is wrong with a window's two clocks, or None: ``host shorter`` (the
    device's work outlasted the host's window: a synchronisation that did not
    wait), ``host longer`` (beyond the margin: a clock that missed part of the
    window), or None when they agree or there is no device clock."""
    if not (math.isfinite(host_s) and math.isfinite(device_s)):
        return None
    gap = device_s - host_s
    if abs(gap) <= max(CLOCK_MARGIN * max(host_s, device_s), CLOCK_MARGIN_S):
        return None
    return "host shorter" if gap > 0 else "host longer"


def clock_problems(windows: pd.DataFrame) -> pd.Series:
    """Each window's ``clock_problem`` (None where none), from its timing-table row;
    all None for a table written before windows had two clocks."""
    import pandas as pd

    if not {"host_window_s", "device_window_s"} <= set(windows.columns):
        return pd.Series(None, index=windows.index, dtype=object)
    return pd.Series(
        [
            clock_problem(float(h), float(d))
            for h, d in zip(windows["host_window_s"], windows["device_window_s"])
        ],
        index=windows.index,
        dtype=object,
    )


def clock_notes(cells: pd.DataFrame, labels: dict) -> list[str]:
    """The report's line on the two clocks: each accelerator cell's median window by
    the host's clock and by the device's, and how many windows disagreed."""
    from ..common.formatting import fmt_time

    if "clock_windows" not in cells:
        return []
    timed = cells[cells["clock_windows"].fillna(0) > 0]
    if not len(timed):
        return []
    each = "; ".join(
        f"scale {r.scale} on {labels.get(r.device, r.device)}: "
        f"{fmt_time(r.host_window_median_s)} and {fmt_time(r.device_window_median_s)}"
        f"{_disagreeing(r)}"
        for r in timed.itertuples()
    )
    return [
        "Each window on an accelerator was also timed by the device's own clock "
        "(events recorded on its stream around the window), median window by the "
        f"host's clock and by the device's: {each}. A window is flagged when they "
        f"differ by more than {CLOCK_MARGIN:.0%} and {CLOCK_MARGIN_S * 1e3:g} ms."
    ]


def _disagreeing(r) -> str:
    n = int(r.clock_disagree)
    return f" ({n} of {int(r.clock_windows)} windows disagree)" if n else ""


def clock_warnings(cells: pd.DataFrame, labels: dict) -> list[str]:
    """A warning for each cell with a window shorter by the host's clock than by the
    device's: its steps returned before the device had done their work."""
    if "clock_host_shorter" not in cells:
        return []
    short = cells[cells["clock_host_shorter"].fillna(0) > 0]
    return [
        f"**host clock short of the device's**: scale {r.scale} on "
        f"{labels.get(r.device, r.device)}, {int(r.clock_host_shorter)} of "
        f"{int(r.clock_windows)} windows lasted longer by the device's clock than by "
        "the host's: the synchronisation returned before the device's work was done, "
        "so the host's step times leave part of it out; do not trust this cell"
        for r in short.itertuples()
    ]
