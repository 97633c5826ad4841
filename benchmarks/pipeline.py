"""Measurements of the workflow itself: the sweep's overhead, what a process and a
switch cost per scale, the no-op run, planning and aggregation at scale."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sweeplib.analyse.analysis import analyse, cell_table
from sweeplib.common.sizes import params_of_scale
from sweeplib.common.tables import read_csv
from workflow_helpers import make_project

ROOT = Path(__file__).resolve().parents[1]
# Jobs that never import torch: the plan, the aggregation, and the parent of each
# scale's timing job (its processes, which do, are counted apart).
WITHOUT_TORCH = (
    "time_scale",
    "write_plan",
    "aggregate_results",
    "analyse_sweep",
    "plot_sweep",
    "write_report",
    "all",
)


def snakemake(project: Path, *args, env=None) -> float:
    """Wall seconds of one Snakemake command (which must succeed)."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=project,
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )
    return time.perf_counter() - t0


def timed_regions(project: Path) -> dict:
    """Seconds inside the sweep's timed regions (every step, evaluation pass, inference
    batch and probe repetition), and inside its timing processes, from its own tables.
    """
    r = project / "results" / "aggregate"
    steps = read_csv(r / "steps.csv")
    timings = read_csv(r / "timings.csv")
    inference = read_csv(r / "inference.csv")
    hardware = read_csv(r / "hardware.csv")
    procs = timings.drop_duplicates(["run_key", "process"])
    evals = timings.drop_duplicates(["run_key", "device"])["eval_s"].sum()
    timed = (
        steps["step_s"].sum()
        + evals
        + (inference["infer_batch_median_s"] * inference["batches"]).sum()
        + (hardware["copy_median_s"] + hardware["matmul_median_s"]).sum() * 10
    )
    return {
        "timed_s": float(timed),
        "process_wall_s": float(procs["process_wall_s"].sum()),
        "processes": len(procs),
        "scales": int(timings["scale"].nunique()),
    }


def process_costs(project: Path) -> list[dict]:
    """Per scale, what one timing process costs besides its rounds (start-up, building
    the models, warm-up), what a round costs, and what the first step after a switch
    costs."""
    r = project / "results" / "aggregate"
    steps = read_csv(r / "steps.csv")
    timings = read_csv(r / "timings.csv")
    out = []
    for scale, t in timings.groupby("scale"):
        s = steps[steps["scale"] == scale]
        procs = t.drop_duplicates(["process", "device"])
        per_process = t.drop_duplicates("process")
        rounds_s = (
            s[s["kind"] != "warmup"].groupby("process")["step_s"].sum()
            / t["rounds"].iloc[0]
        )
        fixed = (
            per_process.set_index("process")["process_wall_s"]
            - s.groupby("process")["step_s"].sum()
        )
        out.append(
            {
                "scale": int(scale),
                "params": int(t["params"].iloc[0]),
                "processes": int(t["process"].nunique()),
                "rounds": int(t["rounds"].iloc[0]),
                "process_wall_s": float(per_process["process_wall_s"].median()),
                "fixed_s": float(fixed.median()),
                "build_s": float(procs.groupby("process")["build_s"].sum().median()),
                "warmup_s": float(
                    s[s["kind"] == "warmup"].groupby("process")["step_s"].sum().median()
                ),
                "round_s": float(rounds_s.median()),
                "switch_ratio": float(
                    (t["switch_step_s"] / t["step_median_s"]).median()
                ),
            }
        )
    return out


def sweep_overhead(
    where: Path,
    config: dict | None,
    noop_repeats: int = 5,
    finished: Path | None = None,
) -> dict:
    """Wall of a full sweep against its timed regions; then the no-op rerun's wall.
    With ``finished``, a sweep already run there (from scratch, with nothing else on
    the machine) is measured instead: its wall is the one its Snakemake log records."""
    if finished is None:
        project = make_project(where, config)
        wall = snakemake(project, "--cores", "1")
    else:
        project = finished
        wall = logged_wall(project)
    log = sorted((project / ".snakemake" / "log").glob("*.log"))[0].read_text()
    jobs = log.count("Finished jobid")
    without_torch = sum(log.count(f"(Rule: {r})") for r in WITHOUT_TORCH)
    regions = timed_regions(project)
    noop = [snakemake(project, "--cores", "1") for _ in range(noop_repeats)]
    analysis = json.loads(
        (project / "results" / "analysis" / "analysis.json").read_text()
    )
    speedup = read_csv(project / "results" / "analysis" / "speedup.csv").to_dict(
        "records"
    )
    return {
        "wall_s": wall,
        "jobs": jobs,
        "torch_processes": jobs - without_torch + regions["processes"],
        **regions,
        "overhead_vs_timed": (wall - regions["timed_s"]) / regions["timed_s"],
        "costs": process_costs(project),
        "analysis": analysis,
        "speedup": speedup,
        "noop_s": {
            "median": float(np.median(noop)),
            "min": float(min(noop)),
            "max": float(max(noop)),
            "n": len(noop),
        },
    }


def logged_wall(project: Path) -> float:
    """Seconds the first Snakemake run in ``project`` took, from its own log."""
    first = sorted((project / ".snakemake" / "log").glob("*.log"))[0].read_text()
    h, m, s = re.search(r"Elapsed time: (\d+):(\d+):([\d.]+)", first).groups()
    return 3600 * int(h) + 60 * int(m) + float(s)


def startup_costs(repeats: int = 5) -> dict:
    """Seconds to start a Python process, and to import what the jobs import."""
    out = {}
    for name, code in (
        ("python", "pass"),
        ("import pandas", "import pandas"),
        ("import torch", "import torch"),
        ("import torch, pandas", "import torch, pandas"),
    ):
        walls = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            walls.append(time.perf_counter() - t0)
        out[name] = float(np.median(walls))
    return out


def plan_time(where: Path, scales: int) -> float:
    """Wall of a dry run planning ``scales`` scales on cpu1 and cpu."""
    project = make_project(
        where, {"scales": list(range(1, scales + 1)), "devices": ["cpu1", "cpu"]}
    )
    # The largest of these scales could not fit here; plan them as if they could.
    return snakemake(
        project,
        "--dry-run",
        "--cores",
        "1",
        env={"SWEEP_ASSUME_MEMORY_BYTES": str(10**18)},
    )


def synthetic_windows(scales: int, processes: int = 5, rounds: int = 6) -> pd.DataFrame:
    """Window rows shaped like the workflow's, for ``scales`` scales on two devices."""
    rng = np.random.default_rng(0)
    rows = []
    for scale in range(1, scales + 1):
        p = params_of_scale(scale)
        for process in range(processes):
            for r in range(rounds):
                for device, (a, b) in (("cpu1", (4e-4, 4e-9)), ("cpu", (5e-4, 2.6e-9))):
                    t = (a + b * p) * np.exp(rng.normal(0, 0.05))
                    rows.append(
                        {
                            "scale": scale,
                            "params": int(p),
                            "device": device,
                            "device_name": "synthetic",
                            "threads": 1,
                            "threads_requested": 1,
                            "hardware_tag": "m",
                            "run_key": f"{scale:012d}",
                            "pairing": "interleaved",
                            "process": process,
                            "round": r,
                            "slot": 0,
                            "window_steps": 10,
                            "batch_size": 10,
                            "step_median_s": t,
                            "step_q25_s": t,
                            "step_q75_s": t,
                            "switch_step_s": t,
                            "data_share": 0.1,
                            "first_step_s": t,
                            "build_s": 0.0,
                            "eval_s": 0.01,
                            "total_s": 1000 * t,
                            "total_extrapolated": True,
                            "peak_rss_bytes": 0,
                            "mem_estimate_bytes": 0,
                            "started_at": 0.0,
                            "ended_at": 0.0,
                        }
                    )
    return pd.DataFrame(rows)


def aggregate_time(where: Path, scales: int) -> float:
    """Seconds to read ``scales`` scales' windows and compute every table (what
    aggregate_results and analyse_sweep do), bootstrap included."""
    where.mkdir(parents=True, exist_ok=True)
    w = synthetic_windows(scales)
    files = []
    for (scale, device), g in w.groupby(["scale", "device"]):
        files.append(where / f"{scale}-{device}.csv")
        g.to_csv(files[-1], index=False)
    hardware = pd.DataFrame(
        [
            {"device": d, "bandwidth_Bps": 1e10, "llc_bytes": 32 * 2**20}
            for d in ("cpu", "cpu1")
        ]
    )
    t0 = time.perf_counter()
    windows = pd.concat([read_csv(p) for p in files], ignore_index=True)
    cells = cell_table(windows, hardware, 0.1)
    analyse(
        cells,
        windows,
        "cpu1",
        {"bootstrap": 2000, "confidence": 0.95, "seed": 0, "model_miss_flag": 0.25},
        pd.DataFrame(columns=["job", "start", "end"]),
    )
    return time.perf_counter() - t0


def growth(sizes, seconds) -> float:
    """Exponent k of seconds ~ size^k, fitted in log-log (1 = linear)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def dump(obj) -> str:
    return json.dumps(obj, indent=2, default=float)
