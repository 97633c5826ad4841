"""Writes that are complete or absent: a file that exists was finished.

Every output is written to a temporary file beside its target and renamed into
place (``os.replace`` is atomic within one file system), so an interrupt or a
crash leaves either the old state or the new one, never half a file. A write
that runs out of space removes its temporary file and says how much it needed
(``NoSpace``); a temporary file that a killed writer left is removed when its
job is redone (``remove_stale_parts``, called by ``logs.job``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

# A full disk, or a full quota (EDQUOT does not exist on every platform).
FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class NoSpace(OSError):
    """A write that ran out of disk space; nothing of it was left behind."""


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, needs: int | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto the target on
    success. ``needs``: the bytes the file will take, if known, for the message of a
    write that runs out of space."""
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
    except OSError as exc:
        if exc.errno not in FULL:
            raise
        raise no_space(target, tmp, needs) from exc
    finally:
        tmp.unlink(missing_ok=True)


def no_space(target: Path, tmp: Path, needs: int | None) -> NoSpace:
    """The error of a write to ``target`` that ran out of space, with the space it
    needed and the space left."""
    written = tmp.stat().st_size if tmp.exists() else 0
    tmp.unlink(missing_ok=True)
    free = shutil.disk_usage(target.parent).free
    needed = (
        f"it needs about {size(needs)}"
        if needs
        else f"it had written {size(written)} and needed more"
    )
    return NoSpace(
        errno.ENOSPC,
        f"no space left on the disk of {target.parent} to write {target.name}: "
        f"{needed}, and {size(free)} are free; nothing was left behind. Free some "
        "space (snakemake --list-untracked lists old results) and run again",
    )


def size(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def write_text(target: str | os.PathLike, text: str) -> None:
    data = text.encode()
    with atomic_path(target, len(data)) as tmp:
        tmp.write_bytes(data)


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

    needs = tensor_bytes(obj)
    with atomic_path(target, needs) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:
            # torch's archive writer reports a full disk as a RuntimeError ("unexpected
            # pos 576 vs 534" from inline_container.cc with torch 2.13), not an OSError.
            if not out_of_space(tmp, needs):
                raise
            raise OSError(errno.ENOSPC, str(exc)) from exc


def out_of_space(tmp: Path, needs: int) -> bool:
    """Whether a failed write of ``needs`` bytes to ``tmp`` failed for space: less is
    free than what it had still to write (at least 1 MiB)."""
    written = tmp.stat().st_size if tmp.exists() else 0
    return shutil.disk_usage(tmp.parent).free < max(needs - written, 2**20)


def tensor_bytes(obj) -> int:
    """The bytes of the tensors in ``obj`` (nested dicts and lists): about what
    ``torch.save`` writes."""
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    nbytes = getattr(obj, "nbytes", None)
    return int(nbytes) if isinstance(nbytes, int) else 0


def remove_stale_parts(targets: Iterable[str | os.PathLike]) -> list[Path]:
    """Delete the temporary files a killed writer of ``targets`` left beside them
    (never renamed into place). Only these targets' own: another job may be writing
    its own file in the same folder."""
    removed = []
    for target in map(Path, targets):
        for p in target.parent.glob(f".{glob_escape(target.name)}.*.part"):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
