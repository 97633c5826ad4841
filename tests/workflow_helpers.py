"""Run the real workflow in a scratch copy of the project."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["Snakefile", "workflow", "profiles", "data"]

TINY = {
    "scales": [1, 2],
    "data": {"n_train": 100, "n_test": 40},
    "train": {"epochs": 2},
    "timing": {"warmup_steps": 2, "repeats": 5, "steps_per_repeat": 2},
    "analysis": {"bootstrap": 200},
    "hardware": {"copy_mib": 8, "matmul_n": 128, "repeats": 3},
}


def make_project(where: Path, config: dict) -> Path:
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, where / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, where / name)
    write_config(where, config)
    return where


def write_config(project: Path, config) -> None:
    (project / "config").mkdir(exist_ok=True)
    (project / "config" / "config.yaml").write_text(yaml.safe_dump(config) if not isinstance(config, str) else config)


def snakemake(project: Path, *args, check=True) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=project, capture_output=True, text=True, timeout=900)
    if check and out.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out


def planned_jobs(project: Path) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run would execute."""
    out = snakemake(project, "--dry-run")
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
