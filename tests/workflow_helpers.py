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

# A changed plan: a note of the change, the plan rewritten, and all that reads it.
AGGREGATION = {
    "note_plan_change": 1,
    "write_plan": 1,
    "aggregate_results": 1,
    "analyse_sweep": 1,
    "plot_sweep": 1,
    "write_report": 1,
    "all": 1,
}

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
    project: Path,
    name: str,
    info: dict | None = None,
    shift_s: float | None = None,
    factor: float | None = None,
) -> Path:
    """Another machine's folder, made from this machine's own, that passes for one:
    a description of another CPU (``"<name> CPU"``, or ``info``'s changes), its tag
    and hardware tags recomputed from it as machines.py makes them, and its rows
    saying the same; every duration scaled by ``factor`` (rates divided by it) and
    every date shifted by ``shift_s`` (by default both depend on the name), as
    another machine measures other times at other dates. The folder is named by
    its tag, as a real machine's is: that path is returned."""
    import zlib

    from sweeplib.common.tables import read_csv
    from sweeplib.plan.machines import accelerator_identity, hardware_tag, machine_tag

    seed = zlib.crc32(name.encode())
    shift_s = 1e6 + seed % 10**6 if shift_s is None else shift_s
    factor = 1.25 + seed % 10**6 / 10**6 if factor is None else factor
    here = this_machine(project)
    source = project / "results/machines" / here
    described = json.loads((source / "machine.json").read_text())
    described.update({"cpu_model": f"{name} CPU", **(info or {})})
    details = described.get("accelerator_details", {})
    identities = {d: accelerator_identity(a) for d, a in details.items()}
    tag = described["tag"] = machine_tag(described, identities)
    there = source.parent / tag
    shutil.copytree(source, there)
    plan = json.loads((there / "plan.json").read_text().replace(here, tag))
    plan["info"] = described
    for key in set(plan["environment"]) & set(described):
        plan["environment"][key] = described[key]
    tags = {}
    for device, h in plan["hardware"].items():
        if device not in identities:
            h["device"]["hardware"] = described["cpu_model"]
        identity = identities.get(device, h["device"]["hardware"])
        tags[device] = h["device"]["hardware_tag"] = hardware_tag(identity, described)
    (there / "plan.json").write_text(json.dumps(plan))
    (there / "machine.json").write_text(json.dumps(described))
    rates = ("bandwidth_Bps", "bandwidth_q25_Bps", "bandwidth_q75_Bps", "flops")
    for csv in there.rglob("*.csv"):
        frame = read_csv(csv)
        for column in frame.columns:
            if column in ("started_at", "ended_at"):
                frame[column] += shift_s
            elif column.endswith("_s") and frame[column].dtype.kind == "f":
                frame[column] *= factor
            elif column in rates:
                frame[column] /= factor
        for column in ("cpu_model", "torch", "usable_cores"):
            if column in frame:
                frame[column] = described[column]
        if "device_name" in frame:
            cpus = ~frame["device"].isin(list(identities))
            frame.loc[cpus, "device_name"] = described["cpu_model"]
        if "hardware_tag" in frame:
            frame["hardware_tag"] = frame["device"].map(tags)
        frame.to_csv(csv, index=False)
    return there


# A command that starts Snakemake: `python -m snakemake ...`, `.venv/bin/snakemake`.
SNAKEMAKE = re.compile(r"(?:^|[\s/])snakemake(?:\s|$)")


def starts_snakemake(args) -> bool:
    """Whether a command (a list, or a shell line) starts Snakemake."""
    words = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
    return bool(SNAKEMAKE.search(" ".join(os.fsdecode(w) for w in words)))
