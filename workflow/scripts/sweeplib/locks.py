"""Stale Snakemake locks: a run killed with SIGKILL (or a power cut) cannot remove
its lock, and every later run would refuse to start until ``--unlock``. A real
run (never a dry run: ``invocation.py``) removes them while the workflow is read,
before Snakemake checks them."""

from __future__ import annotations

import os
from pathlib import Path

import psutil


def _is_snakemake(cmdline: list[str]) -> bool:
    """The Snakemake scheduler itself (not the job scripts it runs from
    .snakemake/scripts/)."""
    return any(
        Path(part).name == "snakemake" or part.endswith("snakemake/__main__.py")
        for part in cmdline[:3]
    ) or ("-m" in cmdline[:3] and "snakemake" in cmdline[:4])


def snakemake_running_in(workdir: Path) -> list[int]:
    """PIDs of other Snakemake processes working in ``workdir``."""
    workdir = workdir.resolve()
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            if (
                proc.info["pid"] == os.getpid()
                or not proc.info["cmdline"]
                or not proc.info["cwd"]
            ):
                continue
            if (
                _is_snakemake(proc.info["cmdline"])
                and Path(proc.info["cwd"]).resolve() == workdir
            ):
                found.append(proc.info["pid"])
        except (psutil.Error, OSError):
            continue
    return found


def clear_stale_locks(workdir: str | os.PathLike = ".") -> list[Path]:
    """Remove Snakemake's locks in ``workdir`` if no Snakemake process there is alive to
    own them."""
    workdir = Path(workdir)
    locks = list((workdir / ".snakemake" / "locks").glob("*.lock"))
    if not locks or snakemake_running_in(workdir):
        return []
    for lock in locks:
        lock.unlink(missing_ok=True)
    return locks
