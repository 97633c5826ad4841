"""Writes that are complete or absent: a file that exists was finished.

Every output is written to a temporary file beside its target and renamed into
place (``os.replace`` is atomic within one file system), so an interrupt or a
crash leaves either the old state or the new one, never half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto the target on
    success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_csv(target: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV, atomically."""
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False)


def write_rows(target: str | os.PathLike, rows: list[dict]) -> None:
    """Write records as CSV, atomically, without pandas (the timing workers do not
    import it)."""
    import csv

    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(target) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def torch_save(target: str | os.PathLike, obj) -> None:
    import torch

    with atomic_path(target) as tmp:
        torch.save(obj, tmp)


def remove_stale_parts(folder: str | os.PathLike) -> list[Path]:
    """Delete temporary files a killed writer left in ``folder`` (they were never
    renamed into place)."""
    removed = []
    for p in Path(folder).glob(".*.part"):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed
