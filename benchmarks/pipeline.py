"""Measurements of the workflow itself: no-op and sweep overheads, planning and aggregation at scale."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sweeplib.analysis import params_of_scale
from sweeplib.tables import analyse, cell_table

ROOT = Path(__file__).resolve().parents[1]


def make_project(where: Path, config: dict | None) -> Path:
    """A scratch copy of the workflow, with ``config`` (or the default config) as its config."""
    where.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "workflow", "profiles", "data", "config"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, where / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, where / name)
    if config is not None:
        (where / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return where


def snakemake(project: Path, *args, env=None) -> float:
    """Wall seconds of one Snakemake command (which must succeed)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=project, check=True, capture_output=True,
                   env={**os.environ, **(env or {})})
    return time.perf_counter() - t0


def timed_regions(project: Path) -> dict:
    """Seconds inside the sweep's timed regions, and inside its training functions, from its own tables."""
    r = project / "results"
    steps = pd.read_csv(r / "steps.csv")
    timings = pd.read_csv(r / "timings.csv").drop_duplicates("run_key")
    inference = pd.read_csv(r / "inference.csv")
    hardware = pd.read_csv(r / "hardware.csv")
    evals = sum(pd.read_csv(p)["eval_s"].dropna().sum() for p in r.glob("runs/*/*/*/epochs.csv") if p.parent.name in set(timings["run_key"]))
    timed = (steps["step_s"].sum() + evals + (inference["infer_batch_median_s"] * inference["batches"]).sum()
             + (hardware["copy_median_s"] + hardware["matmul_median_s"]).sum() * 10)
    return {"timed_s": float(timed), "training_functions_s": float(timings["wall_s"].sum()),
            "check_functions_s": float((inference["ended_at"] - inference["started_at"]).sum()), "runs": len(timings)}


def sweep_overhead(where: Path, config: dict | None, noop_repeats: int = 5) -> dict:
    """Wall of a full sweep against its timed regions; then the no-op rerun's wall."""
    project = make_project(where, config)
    wall = snakemake(project, "--cores", "1")
    log = sorted((project / ".snakemake" / "log").glob("*.log"))[-1].read_text()
    jobs = log.count("Finished jobid")
    # Every job but the aggregation and `all` imports torch.
    torch_jobs = jobs - sum(log.count(f"(Rule: {r})") for r in ("aggregate_timings", "analyse_sweep", "plot_sweep", "write_report", "all"))
    regions = timed_regions(project)
    noop = [snakemake(project, "--cores", "1") for _ in range(noop_repeats)]
    analysis = json.loads((project / "results" / "analysis.json").read_text())
    return {"wall_s": wall, "jobs": jobs, "torch_jobs": torch_jobs, **regions, "analysis": analysis,
           "overhead_vs_timed": (wall - regions["timed_s"]) / regions["timed_s"],
           "overhead_vs_training": (wall - regions["training_functions_s"]) / regions["training_functions_s"],
           "noop_s": {"median": float(np.median(noop)), "min": float(min(noop)), "max": float(max(noop)), "n": len(noop)}}


def startup_costs(repeats: int = 5) -> dict:
    """Seconds to start a Python process, and to import what job scripts import."""
    out = {}
    for name, code in (("python", "pass"), ("import pandas", "import pandas"), ("import torch", "import torch"),
                       ("import torch, pandas", "import torch, pandas")):
        walls = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            walls.append(time.perf_counter() - t0)
        out[name] = float(np.median(walls))
    return out


def plan_time(where: Path, runs: int) -> float:
    """Wall of a dry run planning ``runs`` (scale, device) runs: runs / 2 scales on cpu and cpu1."""
    config = {"scales": list(range(1, runs // 2 + 1)), "devices": ["cpu1", "cpu"]}
    project = make_project(where, config)
    # The largest of these scales could not fit here; plan them as if they could.
    return snakemake(project, "--dry-run", "--cores", "1", env={"SWEEP_ASSUME_MEMORY_BYTES": str(10**18)})


def synthetic_results(where: Path, runs: int, steps: int = 100) -> tuple[list[Path], list[Path], Path]:
    """Timing and step files shaped like the workflow's, for runs / 2 scales on two devices."""
    rng = np.random.default_rng(0)
    timing_files, step_files = [], []
    for scale in range(1, runs // 2 + 1):
        p = params_of_scale(scale)
        for device, (a, b) in (("cpu1", (4e-4, 4e-9)), ("cpu", (5e-4, 2.6e-9))):
            key = f"{device}{scale:08d}"
            folder = where / key
            folder.mkdir(parents=True)
            t = (a + b * p) * np.exp(rng.normal(0, 0.05, steps))
            pd.DataFrame({"step": range(steps), "epoch": 0, "repeat": np.arange(steps) * 5 // steps, "step_s": t,
                          "data_s": t / 10, "loss": 0.7, "run_key": key, "scale": scale, "device": device}).to_csv(folder / "steps.csv", index=False)
            pd.DataFrame([{"run_key": key, "scale": scale, "params": int(p), "device": device, "device_name": "synthetic",
                           "threads": 1, "machine": "m", "first_step_s": t[0], "eval_s": 0.01, "total_s": 1000 * t.mean(),
                           "total_extrapolated": True, "wall_s": 1.0, "repeat": r} for r in range(5)]).to_csv(folder / "timings.csv", index=False)
            timing_files.append(folder / "timings.csv")
            step_files.append(folder / "steps.csv")
    hardware = where / "hardware.csv"
    pd.DataFrame([{"device": d, "bandwidth_Bps": 1e10} for d in ("cpu", "cpu1")]).to_csv(hardware, index=False)
    return timing_files, step_files, hardware


def aggregate_time(where: Path, runs: int) -> float:
    """Seconds to gather ``runs`` runs' files and compute every table (what aggregate_timings and analyse_sweep do)."""
    timing_files, step_files, hardware = synthetic_results(where, runs)
    t0 = time.perf_counter()
    timings = pd.concat([pd.read_csv(p) for p in timing_files], ignore_index=True)
    steps = pd.concat([pd.read_csv(p) for p in step_files], ignore_index=True)
    cells = cell_table(steps, timings, pd.read_csv(hardware), 0.1)
    analyse(cells, steps, "cpu1", {"bootstrap": 2000, "confidence": 0.95, "seed": 0}, list(range(1, runs // 2 + 1)))
    return time.perf_counter() - t0


def growth(sizes, seconds) -> float:
    """Exponent k of seconds ~ size^k, fitted in log-log (1 = linear)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def dump(obj) -> str:
    return json.dumps(obj, indent=2, default=float)
