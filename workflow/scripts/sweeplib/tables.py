"""From the runs' timing files to the sweep's tables: cells, speedups, crossovers, cost models."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import analysis as an
from .sizes import ModelSizes


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of a frame's values as they are (format them first)."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def cell_table(steps: pd.DataFrame, timings: pd.DataFrame, hardware: pd.DataFrame, spread_flag: float) -> pd.DataFrame:
    """One row per (scale, device): the timed steps' median and spread, totals, and bandwidth used."""
    timed = steps[steps["repeat"] >= 0]
    cell = ["scale", "device"]
    by_cell = timed.groupby(cell, sort=True)
    q = by_cell["step_s"].quantile([0.25, 0.5, 0.75]).unstack()  # linear interpolation, as np.percentile
    repeat_medians = timed.groupby([*cell, "repeat"])["step_s"].median().groupby(level=cell)
    sums = by_cell[["step_s", "data_s"]].sum()
    runs = timings.drop_duplicates(cell).set_index(cell)
    out = pd.DataFrame({
        "timed_steps": by_cell.size(),
        "repeats": by_cell["repeat"].nunique(),
        "step_median_s": q[0.5],
        "step_q25_s": q[0.25],
        "step_q75_s": q[0.75],
        "repeat_median_min_s": repeat_medians.min(),
        "repeat_median_max_s": repeat_medians.max(),
        "data_share": sums["data_s"] / sums["step_s"],
    })
    out = out.join(runs[["params", "device_name", "threads", "machine", "run_key", "first_step_s", "eval_s", "total_s",
                         "total_extrapolated"]]).reset_index()
    out["iqr_rel"] = (out["step_q75_s"] - out["step_q25_s"]) / out["step_median_s"]
    out["flagged"] = out["iqr_rel"] > spread_flag
    out["bytes_per_step"] = [ModelSizes.for_scale(int(s)).bytes_per_step() for s in out["scale"]]
    out["achieved_Bps"] = out["bytes_per_step"] / out["step_median_s"]
    bandwidth = hardware.drop_duplicates("device").set_index("device")["bandwidth_Bps"] if len(hardware) else pd.Series(dtype=float)
    out["bandwidth_fraction"] = out["achieved_Bps"] / out["device"].map(bandwidth)
    out["total_extrapolated"] = out["total_extrapolated"].astype(bool)
    order = ["scale", "params", "device", "device_name", "threads", "machine", "run_key", "timed_steps", "repeats",
             "step_median_s", "step_q25_s", "step_q75_s", "iqr_rel", "flagged", "repeat_median_min_s", "repeat_median_max_s",
             "data_share", "first_step_s", "eval_s", "total_s", "total_extrapolated", "bytes_per_step", "achieved_Bps",
             "bandwidth_fraction"]
    return out[order]


def speedups(cells: pd.DataFrame, steps: pd.DataFrame, baseline: str, n_boot: int, confidence: float, seed: int):
    """Speedup of each device over the baseline per scale (ratio of medians), with bootstrap intervals.

    Returns the table and, per device, the bootstrap replicates (rows) by scale (columns)."""
    rng = np.random.default_rng(seed)
    timed = steps[steps["repeat"] >= 0]
    by_cell = {k: g["step_s"].to_numpy() for k, g in timed.groupby(["scale", "device"])}
    alpha = (1 - confidence) / 2
    rows, boots = [], {}
    for device in [d for d in cells["device"].unique() if d != baseline]:
        scales = sorted(set(cells.loc[cells["device"] == device, "scale"]) & set(cells.loc[cells["device"] == baseline, "scale"]))
        reps = []
        for scale in scales:
            b, d = by_cell[(scale, baseline)], by_cell[(scale, device)]
            ratio = an.bootstrap_medians(b, n_boot, rng) / an.bootstrap_medians(d, n_boot, rng)
            reps.append(ratio)
            lo, hi = np.percentile(ratio, [100 * alpha, 100 * (1 - alpha)])
            rows.append({"scale": scale, "device": device, "baseline": baseline,
                         "speedup": float(np.median(b) / np.median(d)), "ci_low": float(lo), "ci_high": float(hi)})
        boots[device] = np.stack(reps, axis=1) if reps else np.empty((n_boot, 0))
    table = pd.DataFrame(rows, columns=["scale", "device", "baseline", "speedup", "ci_low", "ci_high"])
    params = cells.drop_duplicates("scale").set_index("scale")["params"]
    table.insert(1, "params", table["scale"].map(params))
    return table, boots


def analyse(cells: pd.DataFrame, steps: pd.DataFrame, baseline: str, settings: dict, scales: list[int]) -> tuple[pd.DataFrame, dict]:
    """The speedup table and everything said about it: crossovers, fits, regimes, suggestions."""
    table, boots = speedups(cells, steps, baseline, settings["bootstrap"], settings["confidence"], settings["seed"])
    fits = {}
    for device, g in cells.groupby("device"):
        if g["scale"].nunique() >= 2:
            m = an.fit_cost_model(g["params"], g["step_median_s"])
            bpp = float((g["bytes_per_step"] / g["params"]).median())
            fits[device] = {"overhead_s": m.overhead_s, "per_param_s": m.per_param_s,
                            "effective_Bps": bpp / m.per_param_s if m.per_param_s > 0 else float("inf"),
                            "regimes": {int(r.scale): an.regime(m, r.params) for r in g.itertuples()}}
    devices = {}
    for device, g in table.groupby("device"):
        g = g.sort_values("params")
        found = an.crossovers_with_intervals(g["params"], g["speedup"], boots[device], settings["confidence"])
        entry = {"faster_throughout": an.faster_throughout(g["speedup"], device, baseline), "crossovers": [], "model_crossover": None}
        for c in found:
            entry["crossovers"].append({"params": c.params, "low": c.low, "high": c.high, "share": c.share,
                                        "between_scales": [int(g["scale"].iloc[c.lower_index]),
                                                           int(g["scale"].iloc[min(c.lower_index + 1, len(g) - 1)])],
                                        "suggestion": an.suggest_scale(c, scales)})
        if device in fits and baseline in fits:
            mb = an.CostModel(fits[baseline]["overhead_s"], fits[baseline]["per_param_s"])
            md = an.CostModel(fits[device]["overhead_s"], fits[device]["per_param_s"])
            entry["model_crossover"] = an.model_crossover(mb, md)
        devices[device] = entry
    return table, {"baseline": baseline, "fits": fits, "devices": devices}


def finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)
