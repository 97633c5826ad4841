"""The post's table beside ours (from the curve that runs the post's protocol), and
the report's plausibility check applied to the post's own figures."""

from __future__ import annotations

import pandas as pd

from ..common.formatting import fmt_params, fmt_time, markdown_table
from ..common.series import AXES
from ..common.sizes import (
    POST_STEPS,
    STATE_BYTES_PER_PARAM,
    ModelSizes,
    canonical_scale,
)
from .sweep import Machine

POST_SOURCE = (
    "the post's table (data/post_table.csv): an Apple M2 Max, 16-inch, 64 GB; one "
    "hand-timed run per cell, no warm-up or synchronisation, per-batch prints and "
    "per-epoch evaluation included"
)


def the_posts_curve(group: list[Machine]) -> Machine:
    """The curve of this machine that runs the post's protocol (batch 10, float32),
    or its first where none does."""
    post_series = {a: axis.default for a, axis in AXES.items()}
    return next(
        (c for c in group if c.series and c.series.axes == post_series), group[0]
    )


def post(m: Machine, published: pd.DataFrame) -> dict:
    labels = m.labels
    wide = published.pivot(
        index=["scale", "params"], columns="device", values="seconds"
    ).reset_index()
    rows = []
    for r in wide.itertuples():
        row = {
            "params": fmt_params(r.params),
            "post CPU": f"{r.cpu:.1f} s",
            "post MPS": f"{r.mps:.1f} s",
            "post speedup": f"{r.cpu / r.mps:.2f}x",
            "post per step CPU / MPS": (
                f"{fmt_time(r.cpu / POST_STEPS)} / {fmt_time(r.mps / POST_STEPS)}"
            ),
        }
        for c in m.cells[m.cells["scale"] == r.scale].itertuples():
            mark = "*" if c.total_extrapolated else ""
            row[f"ours {labels[c.device]}: step / total"] = (
                f"{fmt_time(c.step_median_s)} / {fmt_time(c.total_s)}{mark}"
            )
        for s in m.table[m.table["scale"] == r.scale].itertuples():
            row[f"our speedup {labels[s.device]}"] = f"{s.speedup:.2f}x"
        rows.append(row)
    return {
        "source": POST_SOURCE,
        "protocol": protocol(m),
        "table": markdown_table(pd.DataFrame(rows).fillna("not run")),
        "sanity": post_sanity(published, m.manifest["analysis"]["implausible_margin"]),
    }


# The post's protocol, which its totals time: 10 epochs of 1,000 samples in
# batches of 10 (POST_STEPS steps).
POST_PROTOCOL = (10, 1000, 10)


def protocol(m: Machine) -> str:
    """What our totals time: the protocol this curve ran, named the post's where it
    is, else its epochs, samples and batch size, which the totals follow."""
    timings = m.timings
    if timings.empty or "epochs" not in timings:
        return "the protocol as configured"
    epochs, batch = int(timings["epochs"].iloc[0]), int(timings["batch_size"].iloc[0])
    n_train = m.manifest.get("config", {}).get("data", {}).get("n_train")
    if not isinstance(n_train, int):
        return "the protocol as configured"
    if (epochs, n_train, batch) == POST_PROTOCOL:
        return "the post's whole protocol"
    return (
        f"the whole protocol as configured, {epochs} epochs of {n_train:,} samples in "
        f"batches of {batch}, not the post's 10 epochs of 1,000 in batches of 10"
    )


# The post's machine, an M2 Max: "400GB/s of unified memory bandwidth" (Apple
# Newsroom, "Apple unveils M2 Pro and M2 Max", 17 January 2023), shared by its CPU
# and GPU: a bound neither can beat.
POST_BANDWIDTH = 400e9


# Weights and gradients at least this large stream from memory, past the M2 Max's
# 48 MB system-level cache (the size of the CPU's default copy probe, 2 x 256 MiB).
POST_STREAMED_BYTES = 2 * 256 * 2**20


def post_sanity(published: pd.DataFrame, margin: float) -> str:
    """The report's own plausibility check, applied to the post's table: each step of
    a streamed size against the bytes it moves at the M2 Max's memory bandwidth."""
    rows = published[STATE_BYTES_PER_PARAM * published["params"] >= POST_STREAMED_BYTES]
    parts, bad = [], []
    for r in rows.sort_values(["scale", "device"]).itertuples():
        step = r.seconds / POST_STEPS
        bound = (
            ModelSizes.for_scale(canonical_scale(r.scale)).bytes_per_step()
            / POST_BANDWIDTH
        )
        parts.append(
            f"scale {r.scale} on {r.device.upper()}: {fmt_time(step)} per step, "
            f"{step / bound:.1f}× its {fmt_time(bound)} bound"
        )
        if step * margin < bound:
            bad.append(f"scale {r.scale} on {r.device.upper()}")
    verdict = (
        "implausible at " + ", ".join(bad) + "."
        if bad
        else f"none is more than {margin:g}× faster than its bound: plausible."
    )
    return (
        "Sanity check of the post's figures, as our cells are checked: the bytes a "
        "step moves at the sizes that stream from memory, over the M2 Max's published "
        f"{POST_BANDWIDTH / 1e9:.0f} GB/s (Apple), against the post's time per step "
        "(its MPS times include per-batch prints and an evaluation per epoch, which "
        f"only add time): {'; '.join(parts)}; {verdict}"
    )
