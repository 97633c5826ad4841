"""What the report is written from (``Sweep``: every machine's rows and plans), and
its share per curve (``Machine``: one machine's, at one value of each series
axis), as each section reads it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..analyse.analysis import in_precision
from ..common.series import AXES, Series, varying, with_axes
from ..common.sizes import canonical_scale
from ..plan.machines import machine_label
from .speedup_table import labels_of


@dataclass
class Sweep:
    """Everything the report is written from: every machine's rows, each tagged with
    its ``machine`` (its results folder)."""

    manifest: dict
    cells: pd.DataFrame
    table: pd.DataFrame
    summary: dict
    inference: pd.DataFrame
    hardware: pd.DataFrame
    timings: pd.DataFrame
    toy_losses: pd.DataFrame
    toy_evals: pd.DataFrame
    toy_predictions: pd.DataFrame
    post: pd.DataFrame
    plan_key: str
    # Machines the aggregation left out, and why (gather.py): folder, reason.
    left_out: pd.DataFrame | None = None

    def curves(self) -> list[Machine]:
        """Every curve's share (``series.curves``): this machine's first, then those
        of the others that were brought in (not those the aggregation left out)."""
        here = self.manifest["machine"]
        out = {Path(f).name for f in left_out_frame(self)["folder"]}
        tags = [here] + sorted(
            t for t in self.manifest["plans"] if t != here and t not in out
        )
        found = {
            Series(c["series"]["machine"], tuple(c["series"][a] for a in AXES)): c
            for c in self.summary.get("curves", {}).values()
        }
        shown = varying(list(found))
        made = []
        for tag in tags:
            mine = sorted(s for s in found if s.machine == tag) or [Series.of(tag, {})]
            made += [
                self._curve(tag, here, s, found.get(s, EMPTY), shown) for s in mine
            ]
        return made

    def _curve(self, tag, here, series, summary, shown) -> Machine:
        timings = _rows_of(self.timings, tag, series)
        keys_ = set(timings["run_key"]) if "run_key" in timings else set()
        inference = _rows_of(self.inference, tag)
        if "run_key" in inference:
            inference = inference[inference["run_key"].isin(keys_)]
        return Machine(
            tag,
            tag == here,
            {**self.manifest["plans"][tag], "analysis": self.manifest["analysis"]},
            _rows_of(self.cells, tag, series),
            _rows_of(self.table, tag, series),
            summary,
            in_precision(_rows_of(self.hardware, tag), series["precision"]),
            inference,
            timings,
            series,
            shown,
        )

    def machines(self) -> list[list[Machine]]:
        """The curves, machine by machine (this machine first)."""
        groups: dict[str, list[Machine]] = {}
        for c in self.curves():
            groups.setdefault(c.tag, []).append(c)
        return list(groups.values())


def _rows_of(frame: pd.DataFrame, tag: str, series: Series | None = None):
    """A machine's rows of a frame (of one curve, with ``series``), its scales as
    their folders name them (2, 1.5), never as a float column's 2.0."""
    if "machine" not in frame:
        return frame.iloc[:0]
    mine = frame[frame["machine"] == tag]
    if series is not None and len(mine):
        mine = with_axes(mine)
        for axis, value in series.axes.items():
            mine = mine[mine[axis] == value]
    if "scale" not in mine:
        return mine
    scales = [canonical_scale(x) for x in mine["scale"]]
    return mine.assign(scale=pd.Series(scales, index=mine.index, dtype=object))


EMPTY = {"baseline": None, "fits": {}, "devices": {}, "overlaps": []}


@dataclass
class Machine:
    """One curve's share of the sweep (one machine's, at one value of each series
    axis), as the sections about it read it: ``manifest`` is its machine's plan,
    with the sweep's analysis settings."""

    tag: str  # its results folder
    here: bool
    manifest: dict
    cells: pd.DataFrame
    table: pd.DataFrame
    summary: dict
    hardware: pd.DataFrame
    inference: pd.DataFrame
    timings: pd.DataFrame
    series: Series | None = None  # the curve
    shown: set = dataclasses.field(default_factory=set)  # the axes that vary

    @property
    def curve(self) -> str:
        """The curve's axes in words ("batch 100, bfloat16"), where the sweep has
        several curves; "" where it has one."""
        return self.series.words(self.shown) if self.series and self.shown else ""

    @property
    def labels(self) -> dict[str, str]:
        return labels_of(self.cells) if len(self.cells) else {}

    @property
    def label(self) -> str:
        return machine_label(self.manifest["info"])


def left_out_frame(sweep: Sweep) -> pd.DataFrame:
    """The machines the aggregation left out (folder, reason), empty where none
    was."""
    if sweep.left_out is None or not len(sweep.left_out):
        return pd.DataFrame({"folder": [], "reason": []})
    return sweep.left_out
