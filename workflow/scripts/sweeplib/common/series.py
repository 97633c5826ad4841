"""The axes of a sweep, declared once.

A measurement is identified by (series, scale, device). The scale is the size
axis: the one along which a curve's crossover is found. A series holds the
values of every other axis: the machine that measured it and the run's series
axes (``AXES``: the batch size, the precision). Each series is one curve, with
its own speedups, crossovers and refinement; ``curves`` is the one place that
turns a table into curves, and everything downstream (the analysis, the
refinement passes, the report, the plots) consumes them.

A new axis is a declaration: an entry here, a field of ``runspec.Training`` of
the same name (so it is in every run's key), its schema entry, and the code
where it acts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the plan reads the axes without pandas
    import pandas as pd


@dataclass(frozen=True)
class Axis:
    """A series axis: a ``train`` setting that takes one value or a list of them
    (``config.series_of``)."""

    default: object  # the value of rows written before the axis existed
    kind: type
    words: str  # how a value reads in the report ("batch {}")


AXES = {
    "batch_size": Axis(10, int, "batch {}"),
    "precision": Axis("float32", str, "{}"),
}
# What identifies a curve: the machine, then the series axes.
CURVE = ["machine", *AXES]


@dataclass(frozen=True, order=True)
class Series:
    """One curve: the machine that measured it and its series axes' values (in the
    order of ``AXES``)."""

    machine: str
    values: tuple

    def __getitem__(self, axis: str):
        return self.values[list(AXES).index(axis)]

    @property
    def id(self) -> str:
        """A name for JSON keys: ``<machine>/batch_size=10/precision=float32``."""
        return "/".join([self.machine, *(f"{a}={self[a]}" for a in AXES)])

    @property
    def axes(self) -> dict:
        """The series axes' values, without the machine."""
        return dict(zip(AXES, self.values))

    def to_dict(self) -> dict:
        return {"machine": self.machine, **self.axes}

    @classmethod
    def of(cls, machine: str, values: dict) -> Series:
        """A machine's series with the axes' values (the defaults where missing)."""
        return cls(
            machine,
            tuple(axis.kind(values.get(a, axis.default)) for a, axis in AXES.items()),
        )

    def words(self, shown=None) -> str:
        """The axes in words ("batch 100, bfloat16"); only those in ``shown`` (the
        axes whose values differ within the sweep: ``varying``) when given."""
        return ", ".join(
            axis.words.format(self[a])
            for a, axis in AXES.items()
            if shown is None or a in shown
        )


def with_axes(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every series axis as a column: rows written before an axis
    existed take its default."""
    missing = {a: axis.default for a, axis in AXES.items() if a not in frame}
    out = frame.assign(**missing) if missing else frame
    filled = {a: out[a].fillna(AXES[a].default) for a in AXES if out[a].isna().any()}
    out = out.assign(**filled) if filled else out
    return out.astype({a: axis.kind for a, axis in AXES.items()}) if len(out) else out


def curves(frame: pd.DataFrame) -> Iterator[tuple[Series, pd.DataFrame]]:
    """The frame's rows curve by curve, in a stable order (machine, then axes)."""
    if frame.empty or "machine" not in frame:
        return
    frame = with_axes(frame)
    for values, rows in frame.groupby(CURVE, sort=True):
        yield Series(values[0], tuple(values[1:])), rows


def varying(series: list[Series]) -> set[str]:
    """The series axes whose values differ among these curves."""
    return {a for a in AXES if len({s[a] for s in series}) > 1}
