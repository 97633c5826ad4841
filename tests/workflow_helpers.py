"""Run the real workflow in a scratch copy of the project."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["Snakefile", "workflow", "profiles", "data", "config"]
SCRIPTS = ROOT / "workflow" / "scripts"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"

# Every section of the report, in order.
REPORT_HEADINGS = [
    "## Result",
    "## This machine: ",
    "### Speedup table",
    "### Why: a cost model",
    "### Environment",
    "## The post's table beside ours",
    "## Inference checks",
    "## The toy example",
    "## Runs and their keys",
    "## Reproduce",
]

# The small sweep that the tests, CI and the README's "try it" line share.
SMALL = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
# The tests of the CPU stand-in pin its two devices, so that they mean the same on a
# machine with an accelerator (where ``devices: auto`` would compare the CPU with it;
# tests/test_accelerator.py runs the small sweep that way). Refinement adds sizes by
# what was measured, so it is off here; tests/test_workflow.py turns it on.
TINY = {**SMALL, "devices": ["cpu1", "cpu"], "refine": {"enabled": False}}


def make_project(where: Path, config: dict | str | None) -> Path:
    """A scratch copy of the workflow in ``where``, with ``config`` as its config (or,
    with None, the project's own default config)."""
    where.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(
                src, where / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(src, where / name)
    if config is not None:
        write_config(where, config)
    return where


def write_config(project: Path, config) -> None:
    (project / "config").mkdir(exist_ok=True)
    text = config if isinstance(config, str) else yaml.safe_dump(config)
    (project / "config" / "config.yaml").write_text(text)


def snakemake(
    project: Path, *args, check=True, env=None
) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )
    if check and out.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
        )
    return out


def planned_jobs(project: Path, env=None) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run would execute."""
    out = snakemake(project, "--dry-run", env=env)
    text = out.stdout + out.stderr
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", text):
        m = re.match(r"(?:local)?rule (\w+):", block)
        if m:
            w = re.search(r"wildcards: (.*)", block)
            jobs.append((m.group(1), w.group(1) if w else ""))
    return jobs


def rules_run(jobs) -> dict[str, int]:
    counts = {}
    for rule, _ in jobs:
        counts[rule] = counts.get(rule, 0) + 1
    return counts


def tree(root: Path) -> dict:
    """Every file under results/ with its date and bytes."""
    return {
        p.relative_to(root): (p.stat().st_mtime_ns, p.read_bytes())
        for p in (root / "results").rglob("*")
        if p.is_file()
    }


def this_machine(project: Path) -> str:
    """The tag of the machine that ran the project's sweep."""
    return json.loads((project / "results/plan/sweep.json").read_text())["machine"]


def fabricate_machine(
    project: Path, name: str, info: dict | None = None, shift_s: float | None = None
) -> Path:
    """Another machine's folder, made from this machine's own: copied under ``name``,
    its plan and description naming it (with ``info`` changed in both), and every
    time shifted by ``shift_s`` (by default, by some days that depend on the name),
    as a second machine measures at other times."""
    import zlib

    from sweeplib.tables import read_csv

    if shift_s is None:
        shift_s = 1e6 + zlib.crc32(name.encode()) % 10**6
    here = this_machine(project)
    source = project / "results/machines" / here
    there = source.parent / name
    shutil.copytree(source, there)
    for file in ("plan.json", "machine.json"):
        obj = json.loads((there / file).read_text().replace(here, name))
        (obj["info"] if file == "plan.json" else obj).update(info or {})
        (there / file).write_text(json.dumps(obj))
    for csv in there.rglob("*.csv"):
        frame = read_csv(csv)
        for column in ("started_at", "ended_at"):
            if column in frame:
                frame[column] += shift_s
        frame.to_csv(csv, index=False)
    return there
