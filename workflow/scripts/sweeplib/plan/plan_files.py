"""What the plan writes: this machine's plan (``plan.json``, which travels with its
results folder) and the manifest the aggregation reads (``results/plan/sweep.json``:
every machine's plan, the analysis settings, the aggregation's code, and the
other machines' folders left out, with why). Both of a machine's files carry the
``format`` that ``brought_in.py`` checks when a folder is brought in.

The manifest has one path, not a keyed one: it is rewritten whenever its text
changes (``is_written``; workflow/rules/report.smk), which reruns all that
reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..common import keys
from .brought_in import FORMAT
from .config import scale_of


def text(obj: dict) -> str:
    """The canonical text of a plan file (sorted keys)."""
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def machine_plan(plan) -> dict:
    """This machine's runs and how it ran them, refinement's passes included."""
    configured = {scale_of(e) for e in plan.config["scales"]}
    return {
        "format": FORMAT,
        "machine": plan.machine,
        "info": plan.machine_info,
        "baseline": plan.baseline,
        "devices": plan.devices,
        "scales": [scale_of(e) for e in plan.config["scales"]],
        "analysis": plan.config["analysis"],
        "runs": [
            {
                "scale": r.scale,
                **r.series.axes,
                "key": r.key,
                "folder": r.folder,
                "devices": list(r.spec.device_names),
                "params": r.spec.params,
                "pairing": r.spec.pairing,
                "pairing_reason": r.pairing_reason,
                "processes": r.spec.timing.processes,
                "wave": r.spec.wave,
                "added": r.scale not in configured or r.spec.wave > 0,
            }
            for r in plan.runs
        ],
        "refinement": plan.refinement,
        "skipped": plan.skipped,
        "hardware": {
            d: {
                **h,
                "file": keys.HARDWARE.format(
                    machine=plan.machine, device=d, key=h["key"]
                ),
            }
            for d, h in plan.hardware.items()
        },
        "environment": plan.environment,
        "config": plan.config,
    }


def manifest(plan) -> dict:
    """What the aggregation reads: every machine's plan, and how to analyse them."""
    return {
        "machine": plan.machine,
        "plans": {plan.machine: machine_plan(plan), **plan.imported},
        "analysis": plan.config["analysis"],
        "refine": plan.config["refine"] if plan.config["refine"]["enabled"] else None,
        "toy_key": plan.toy_key,
        "code": plan.aggregation_code,
        "left_out": plan.left_out,
    }


def is_written(plan, path: str = keys.PLAN) -> bool:
    """Whether ``path`` already holds this plan's manifest (read only: a dry run may
    ask)."""
    p = Path(path)
    return p.exists() and p.read_text() == text(manifest(plan))
