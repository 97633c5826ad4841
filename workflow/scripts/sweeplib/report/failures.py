"""What the report could not include: the folders left out, and this machine's
planned runs without results, each with the last line of its failed job's log."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..common import keys
from ..common.formatting import markdown_table, md_text
from ..common.series import Series, varying
from .sweep import Sweep, left_out_frame


def left_out(sweep: Sweep) -> list[str]:
    """Each folder left out, when it was read (plan.json, machine.json, its files:
    brought_in.py) or aggregated (its rows: gather.py), and why."""
    notes = list(sweep.manifest.get("left_out", []))
    notes += left_out_frame(sweep).to_dict("records")
    return [f"{md_text(n['folder'])}: {md_text(n['reason'])}" for n in notes]


# A log line's time stamp (logs.job_logger), dropped when the report quotes it.
_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")


def failed_runs(sweep: Sweep) -> str:
    """This machine's planned runs without results (a job failed, and the report
    was written from the rest: failed_run_report.py), each with its log's last line."""
    rows = [
        {**row, "run": f"`{row['run']}`", **_md(row, "last line of its log", "log")}
        for row in failed_run_rows(sweep)
    ]
    return markdown_table(pd.DataFrame(rows)) if rows else ""


def _md(row: dict, *columns: str) -> dict:
    return {c: md_text(row[c]) for c in columns}


def failed_run_rows(sweep: Sweep) -> list[dict]:
    """Each of this machine's planned runs without results: its scale, key, the job
    that failed, its log and the log's last line (plain text)."""
    here = sweep.manifest["machine"]
    if here in {Path(f).name for f in left_out_frame(sweep)["folder"]}:
        return []
    rows = []
    runs = sweep.manifest["plans"][here]["runs"]
    curves = [Series.of(here, run) for run in runs]
    shown = varying(curves)
    for run, series in zip(runs, curves):
        job = _failed_job(sweep, here, run) if "key" in run else None
        if job:
            folder = keys.RUN.format(machine=here, scale=run["scale"], key=run["key"])
            log = Path(folder) / f"{job[1]}.log"
            rows.append(
                {
                    "scale": run["scale"],
                    **({"curve": series.words(shown)} if shown else {}),
                    "run": run["key"],
                    "failed": job[0],
                    "last line of its log": last_line(log),
                    "log": str(log),
                }
            )
    return rows


def _failed_job(sweep: Sweep, here: str, run: dict) -> tuple[str, str] | None:
    """Which of a run's jobs failed (its words, its log's name), or None."""

    def has(frame: pd.DataFrame) -> bool:
        if "machine" not in frame or "run_key" not in frame:
            return False
        mine = frame[(frame["machine"] == here) & (frame["run_key"] == run["key"])]
        return set(run["devices"]) <= set(mine["device"])

    if not has(sweep.timings):
        return "timing", "time"
    if not has(sweep.inference):
        return "inference check", "check"
    return None


def last_line(log: Path) -> str:
    """The last line of a job's log, without its time stamp (a failed job's says why:
    ``logs.job``)."""
    try:
        lines = [line for line in log.read_text().splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    if not lines:
        return "(empty log)"
    line = _STAMP.sub("", lines[-1])
    return line if len(line) <= 500 else line[:499] + "…"
