"""What a run found, in a few lines for the terminal: this machine's statement per
device (the report's own sentences, as plain text), any run that failed, and where
to read the rest. ``write_report`` writes it beside the report; Snakemake prints it
when the run ends (``onsuccess`` in ``workflow/rules/report.smk``), and after a
failed job the run that writes the report from the rest prints it
(failed_run_report.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..common import keys
from .failed_run_report import REPORT

if TYPE_CHECKING:
    from .sweep import Sweep

VERDICT = keys.VERDICT
HTML = "snakemake --report results/report.html"
# The report's emphasis, dropped for the terminal.
_BOLD = re.compile(r"\*\*")


def verdict(sweep: Sweep) -> str:
    """This machine's result, its failed runs, and where the report is."""
    # Imported here: Snakemake's process imports this module for ``print_verdict``
    # and should not pay for pandas and the report's code on every invocation.
    from .failures import failed_run_rows
    from .result import frontier_lines, result

    group = sweep.machines()[0]
    here = group[0]
    lines = [f"What this run found on {here.label}:"]
    found = frontier_lines(sweep, group) if len(group) > 1 else result(here)
    lines += [f"- {_BOLD.sub('', line)}" for line in found]
    failed = failed_run_rows(sweep)
    if failed:
        lines.append(
            "Failed runs (the report was written from the others; a plain rerun "
            "tries them again):"
        )
        lines += [
            f"- scale {r['scale']}"
            + (f" ({r['curve']})" if r.get("curve") else "")
            + f": its {r['failed']} job failed: "
            f"{r['last line of its log']} (log: {r['log']})"
            for r in failed
        ]
    which = "The report, from the runs that finished" if failed else "The report"
    lines.append(
        f"{which}: {REPORT}, with its figures in results/ (crossover.png, "
        f"step_time.png, frontier.png, speedup_map.png); an HTML report to send: "
        f"{HTML}"
    )
    return "\n".join(lines) + "\n"


def print_verdict(stream=None) -> None:
    """Print the verdict the report's job wrote (nothing when there is none, as
    after a run that did not reach the report)."""
    path = Path(VERDICT)
    if path.is_file():
        print("\n" + path.read_text(errors="replace"), file=stream or sys.stdout)
