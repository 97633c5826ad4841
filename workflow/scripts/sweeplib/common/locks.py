"""Stale Snakemake locks: a run killed with SIGKILL (or a power cut) cannot remove
its lock, and every later run would refuse to start until ``--unlock``.

A lock is removed only when it is provably stale. Each real run of this workflow
records its owner while the workflow is read (``record_owner``: host, process id,
the process's start time, and on Linux the boot and the PID namespace) in
``.snakemake/sweep-owners/``, and removes the record when it exits. A later run
(never a dry run: ``invocation.py``) that finds locks removes them only if
every record is of a process on this host, in this boot and PID namespace, that
no longer exists (the pid is gone, or reused by a process started at another
time), and no Snakemake process it can see works in the folder. Anything else
(no record, a process on another host, in another container, of another user
whose start time cannot be read, or alive) keeps the lock, says why, and leaves
Snakemake to stop with its own advice (``--unlock``)."""

from __future__ import annotations

import atexit
import json
import math
import os
import socket
import sys
from pathlib import Path

import psutil

OWNERS = Path(".snakemake", "sweep-owners")
LOCKS = Path(".snakemake", "locks")
# Start times read twice can differ by rounding (psutil derives them from the boot
# time); a pid reused by a new process starts later than this.
SAME_START_S = 1.0


def _is_snakemake(cmdline: list[str]) -> bool:
    """The Snakemake scheduler itself (not the job scripts it runs from
    .snakemake/scripts/)."""
    return any(
        Path(part).name == "snakemake" or part.endswith("snakemake/__main__.py")
        for part in cmdline[:3]
    ) or ("-m" in cmdline[:3] and "snakemake" in cmdline[:4])


def snakemake_running_in(workdir: Path) -> list[int]:
    """PIDs of other Snakemake processes working in ``workdir`` that this process can
    see (not those of other users, containers or hosts)."""
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


def identity(pid: int | None = None) -> dict:
    """Who a process is, as an owner record says it: host, pid, start time, and
    where Linux tells them, the boot and the PID namespace."""
    pid = os.getpid() if pid is None else pid
    return {
        "host": socket.gethostname(),
        "pid": pid,
        "started": psutil.Process(pid).create_time(),
        "boot": _read("/proc/sys/kernel/random/boot_id"),
        "pid_namespace": _namespace(),
    }


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def record_owner(workdir: str | os.PathLike = ".") -> Path:
    """Record this process as a run that holds the folder's locks, until it exits."""
    path = Path(workdir, OWNERS, f"{socket.gethostname()}-{os.getpid()}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(identity()))
    atexit.register(path.unlink, missing_ok=True)
    return path


def gone(record: dict) -> str:
    """Why the run a record names provably no longer exists ("" if it may)."""
    me = identity()
    if record.get("host") != me["host"]:
        return ""
    if record.get("boot") and me["boot"] and record["boot"] != me["boot"]:
        return f"pid {record.get('pid')} ran before this host last started"
    if record.get("pid_namespace") != me["pid_namespace"]:
        return ""
    try:
        started = psutil.Process(int(record["pid"])).create_time()
    except psutil.NoSuchProcess:
        return f"pid {record['pid']} on this host no longer exists"
    except (psutil.Error, KeyError, TypeError, ValueError):
        return ""
    if abs(started - float(record.get("started", started))) > SAME_START_S:
        return (
            f"pid {record['pid']} on this host is another process now (it started "
            "after the run that held the lock)"
        )
    return ""


def why_kept(record: dict) -> str:
    """Why a record's run may still hold the lock, in words."""
    host, pid = record.get("host"), record.get("pid")
    if host != socket.gethostname():
        return f"it is held by pid {pid} on host {host}, which this run cannot check"
    if record.get("pid_namespace") != _namespace():
        return f"it is held by pid {pid} in another container (PID namespace)"
    return f"it is held by pid {pid} on this host, which still runs (or cannot be read)"


def read_records(workdir: Path) -> dict[Path, dict | None]:
    """Every owner record in the folder (None for one that cannot be read)."""
    out = {}
    for path in sorted((workdir / OWNERS).glob("*.json")):
        try:
            record = json.loads(path.read_text())
            out[path] = record if well_formed(record) else None
        except (OSError, ValueError, RecursionError):
            out[path] = None
    return out


def well_formed(record) -> bool:
    """Whether a record is one ``identity`` writes: a host's name, a pid and, where
    given, a finite start time (a null or text start time, or a pid that is no
    number, is a record that cannot be read, never a traceback)."""
    if not isinstance(record, dict) or not isinstance(record.get("host"), str):
        return False
    pid, started = record.get("pid"), record.get("started", 0.0)
    return (
        isinstance(pid, int)
        and not isinstance(pid, bool)
        and pid > 0
        and isinstance(started, (int, float))
        and not isinstance(started, bool)
        and math.isfinite(started)
    )


def clear_stale_locks(workdir: str | os.PathLike = ".") -> tuple[list[Path], str]:
    """Remove the folder's Snakemake locks if they are provably stale (the module's
    docstring). Returns the locks removed with why, or none with why they were kept
    ("" when there were none). Records of runs that are gone are removed too."""
    workdir = Path(workdir)
    locks = sorted((workdir / LOCKS).glob("*.lock"))
    records = read_records(workdir)
    dead = {p: why for p, r in records.items() if r is not None and (why := gone(r))}
    if not locks:
        _remove(dead)
        return [], ""
    kept = _kept_because(workdir, records, dead)
    if kept:
        _remove(dead)
        return [], kept
    _remove(dead)
    for lock in locks:
        lock.unlink(missing_ok=True)
    return locks, "; ".join(sorted(set(dead.values())))


def _kept_because(workdir: Path, records: dict, dead: dict) -> str:
    """Why the locks are not provably stale ("" if they are)."""
    if not records:
        return "no run of this workflow recorded that it holds it"
    unreadable = [p for p, r in records.items() if r is None]
    if unreadable:
        return f"the record {unreadable[0]} of who holds it cannot be read"
    alive = [r for p, r in records.items() if p not in dead]
    if alive:
        return why_kept(alive[0])
    running = snakemake_running_in(workdir)
    if running:
        return f"Snakemake runs in this folder as pid {running[0]}"
    return ""


def _remove(records: dict) -> None:
    for path in records:
        path.unlink(missing_ok=True)


def report(removed: list[Path], why: str, out=sys.stderr) -> None:
    """Say what was done with a lock found at start."""
    if removed:
        print(f"Removed a stale lock left by a killed run ({why}).", file=out)
    elif why:
        print(
            f"Note: kept the lock in .snakemake/locks: {why}. If no other run works "
            "in this folder, Snakemake's --unlock removes it.",
            file=out,
        )
