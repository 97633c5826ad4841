"""From the runs' windows to what the report says, curve by curve (``series.py``):
one row per (scale, device), the speedups (``speedup.py``; formed only within a
curve), the crossovers (``crossover.py``), the cost models (``costmodel.py``) and
a check that no two timed regions of a machine overlapped."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..common import keys
from ..common.devices import SEPARATE
from ..common.series import AXES, Series, curves, varying, with_axes
from ..common.sizes import ModelSizes, canonical_scale, state_bytes_per_param
from ..plan import refine
from ..plan.brought_in import note, quote
from . import clocks, costmodel, crossover
from .speedup import speedup_table

CELL = ["scale", "device"]


def analyse_curves(
    timings: pd.DataFrame,
    inference: pd.DataFrame,
    hardware: pd.DataFrame,
    manifest: dict,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every curve's cells, speedups and summary (``series.curves``: one per machine
    and value of each series axis), each against its machine's own baseline
    (values: the report formats them). The summary's ``curves`` are keyed by
    ``Series.id``. Machine by machine: an error in another machine's rows leaves
    all its curves out, with a note quoting the error in the summary's
    ``left_out``; one in this machine's is raised."""
    here = manifest.get("machine")
    cells, tables, summaries, left_out = [], [], {}, []
    for machine, plan in manifest["plans"].items():
        w = timings[timings["machine"] == machine] if len(timings) else timings
        if w.empty:
            continue
        try:
            found = analyse_machine(machine, plan, w, inference, hardware, manifest)
        except Exception as exc:
            if machine == here:
                raise
            left_out.append(
                note(
                    keys.MACHINE.format(machine=machine),
                    f"analysing its rows failed: {quote(exc)}",
                )
            )
            continue
        for series, (c, t, summary) in found.items():
            cells.append(c)
            tables.append(t)
            summaries[series.id] = {"series": series.to_dict(), **summary}
    out = {"curves": summaries}
    if left_out:
        out["left_out"] = left_out
    return (
        pd.concat(cells, ignore_index=True) if cells else pd.DataFrame(),
        pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(),
        out,
    )


def analyse_machine(machine, plan, w, inference, hardware, manifest) -> dict:
    """One machine's curves: for each, its cells, speedups and summary."""
    hw = hardware[hardware["machine"] == machine] if len(hardware) else hardware
    checks = inference[inference["machine"] == machine] if len(inference) else inference
    spans = timed_spans(w, checks, hw)
    return {
        series: analyse_curve(series, plan, rows, checks, hw, manifest, spans)
        for series, rows in curves(w)
    }


def analyse_curve(series, plan, w, checks, hw, manifest, spans):
    """One curve's cells, speedups and summary (``spans``: its machine's timed
    regions, for the overlaps)."""
    settings = manifest["analysis"]
    hw = in_precision(hw, series["precision"])
    precision = series["precision"]
    c = with_bounds(
        cell_table(w, hw, settings["spread_flag"], precision),
        hw,
        settings["implausible_margin"],
        precision,
    ).assign(**series.to_dict())
    configured = {canonical_scale(x) for x in plan["scales"]}
    c["added"] = [canonical_scale(x) not in configured for x in c["scale"]]
    t, summary = analyse(
        c, w, plan["baseline"], settings, spans, refine_settings(manifest)
    )
    return c, t.assign(**series.to_dict()), summary


def in_precision(hardware: pd.DataFrame, precision: str) -> pd.DataFrame:
    """The probes with the matrix throughput of ``precision`` as their ``flops``
    (each probe measures float32 and every precision the sweep trains in:
    ``flops_<precision>``)."""
    column = f"flops_{precision}"
    if precision == "float32" or hardware.empty:
        return hardware
    if column not in hardware:
        return hardware.assign(flops=np.nan)
    return hardware.assign(flops=hardware[column])


def refine_settings(manifest: dict) -> refine.Settings | None:
    """The refinement rules the sweep ran with (None where it ran none)."""
    given = manifest.get("refine")
    return refine.Settings(**given) if given else None


def timing_processes(timings: pd.DataFrame) -> pd.DataFrame:
    """One row per timing process. A scale's process index names one process that held
    every device, or, where the devices ran in processes of their own (``SEPARATE``),
    one per device: ``held`` names that device, and is empty otherwise."""
    held = timings["device"].where(timings["pairing"] == SEPARATE, "")
    return timings.assign(held=held).drop_duplicates(
        ["machine", "run_key", "process", "held"]
    )


def timed_spans(
    timings: pd.DataFrame, inference: pd.DataFrame, hardware: pd.DataFrame
) -> pd.DataFrame:
    """Every timed region of a machine: the timing processes, the checks, the probes."""
    procs = timing_processes(with_axes(timings))
    runs = dict(zip(procs["run_key"], _run_names(procs)))
    jobs = [
        (
            [
                f"{runs[k]}, timing process {p}" + (f" of {h}" if h else "")
                for k, p, h in zip(procs["run_key"], procs["process"], procs["held"])
            ],
            procs,
        ),
        (
            [
                f"{runs.get(k, f'scale {s}')}, inference check"
                for k, s in zip(
                    inference.get("run_key", [None] * len(inference)),
                    inference["scale"],
                )
            ],
            inference,
        ),
        ([f"hardware probe of {d}" for d in hardware["device"]], hardware),
    ]
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "job": names,
                    "start": f["started_at"],
                    "end": f["ended_at"],
                    "node": f["node"] if "node" in f else "",
                }
            )
            for names, f in jobs
        ],
        ignore_index=True,
    )


def _run_names(procs: pd.DataFrame) -> list[str]:
    """Each timing process's run in words: its scale, and its curve where the machine
    has several ("scale 2 (batch 100, bfloat16)")."""
    listed = [(s, *v) for s, *v in zip(procs["scale"], *(procs[a] for a in AXES))]
    shown = varying([Series("", tuple(v)) for _, *v in listed])
    return [
        f"scale {s}" + (f" ({Series('', tuple(v)).words(shown)})" if shown else "")
        for s, *v in listed
    ]


def cell_table(
    windows: pd.DataFrame,
    hardware: pd.DataFrame,
    spread_flag: float,
    precision: str = "float32",
) -> pd.DataFrame:
    """One row per (scale, device): the median window, the spread of the windows and of
    the processes, what the first step after a switch cost, totals, and the bandwidth
    used."""
    by = windows.groupby(CELL, sort=True)
    q = by["step_median_s"].quantile([0.25, 0.5, 0.75]).unstack()
    per_process = (
        windows.groupby([*CELL, "process"])["step_median_s"]
        .median()
        .groupby(level=CELL)
    )
    first = by.first()
    process_facts = windows.drop_duplicates([*CELL, "process"]).groupby(CELL)
    out = pd.DataFrame(
        {
            "params": first["params"],
            "device_name": first["device_name"],
            "threads": by["threads"].agg(lambda t: int(t.mode().iloc[0])),
            "threads_requested": first["threads_requested"],
            "hardware_tag": first["hardware_tag"],
            "run_key": first["run_key"],
            "pairing": first["pairing"],
            "windows": by.size(),
            "processes": by["process"].nunique(),
            "step_median_s": q[0.5],
            "step_q25_s": q[0.25],
            "step_q75_s": q[0.75],
            "process_min_s": per_process.min(),
            "process_max_s": per_process.max(),
            "switch_ratio": (windows["switch_step_s"] / windows["step_median_s"])
            .groupby([windows[c] for c in CELL])
            .median(),
            "data_share": by["data_share"].median(),
            "first_step_s": process_facts["first_step_s"].median(),
            "build_s": process_facts["build_s"].median(),
            "eval_s": first["eval_s"],
            "total_s": first["total_s"],
            "total_extrapolated": first["total_extrapolated"].astype(bool),
            "peak_rss_bytes": by["peak_rss_bytes"].max(),
            "mem_estimate_bytes": by["mem_estimate_bytes"].max(),
            "batch_size": first["batch_size"],
            "first_timed_ratio": _first_timed_ratio(windows),
            **clock_facts(windows),
            **thread_facts(windows),
        }
    ).reset_index()
    out["iqr_rel"] = (out["step_q75_s"] - out["step_q25_s"]) / out["step_median_s"]
    out["flagged"] = out["iqr_rel"] > spread_flag
    return with_bandwidth(out, hardware, precision)


def clock_facts(windows: pd.DataFrame) -> dict:
    """Per cell, the median window by each clock, the windows with a device clock,
    and those whose clocks disagree (``clocks.py``): a window shorter by the host's
    clock than by the device's had its steps return before the device's work."""
    cells = [windows[c] for c in CELL]
    problems = clocks.clock_problems(windows)
    has = pd.Series(False, index=windows.index)
    if "device_window_s" in windows:
        has = pd.to_numeric(windows["device_window_s"], errors="coerce").notna()
    facts = {
        "clock_windows": has.groupby(cells).sum(),
        "clock_host_shorter": (problems == "host shorter").groupby(cells).sum(),
        "clock_disagree": problems.notna().groupby(cells).sum(),
    }
    for column in ("host_window_s", "device_window_s"):
        values = windows.get(column, pd.Series(np.nan, index=windows.index))
        facts[f"{column[:-2]}_median_s"] = (
            pd.to_numeric(values, errors="coerce").groupby(cells).median()
        )
    return facts


def _first_timed_ratio(windows: pd.DataFrame) -> pd.Series:
    """Per cell, the median over windows of the first timed step over the window's
    median: near 1 when the untimed switch steps covered the switch."""
    if "first_timed_step_s" not in windows:
        return pd.Series(float("nan"), index=windows.groupby(CELL).size().index)
    ratio = windows["first_timed_step_s"] / windows["step_median_s"]
    return ratio.groupby([windows[c] for c in CELL]).median()


def thread_facts(windows: pd.DataFrame) -> dict:
    """Per cell, the threads its processes set their thread variables to, the
    variables as they ran, and whether every process ran them as planned."""
    if "thread_variables" not in windows:
        return {}
    procs = windows.drop_duplicates([*CELL, "process"])
    ran = [
        all(value == str(planned) for value in _values(text))
        for text, planned in zip(procs["thread_variables"], procs["process_threads"])
    ]
    by = procs.assign(as_planned=ran).groupby(CELL)
    return {
        "process_threads": by["process_threads"].max(),
        "thread_variables": by["thread_variables"].agg(
            lambda v: "; ".join(dict.fromkeys(map(str, v)))
        ),
        "thread_variables_as_planned": by["as_planned"].all(),
    }


def _values(text) -> list[str]:
    """The values of ``NAME=value`` pairs."""
    return [pair.partition("=")[2] for pair in str(text).split()]


def with_bounds(
    cells: pd.DataFrame,
    hardware: pd.DataFrame,
    margin: float,
    precision: str = "float32",
) -> pd.DataFrame:
    """The least time the hardware needs for each cell's step, and whether the median
    step beats it by more than ``margin`` (``implausible``: a broken measurement,
    docs/METHOD.md "A report that checks itself"; a missing synchronisation mostly
    shifts steps rather than shrinking them, and the device clock catches it).

    Two bounds, the larger counts: the FLOPs of a step over the device's measured
    matrix throughput, always; the bytes a step moves over its measured copy
    bandwidth, where the weights and gradients (``state_bytes_per_param``) are at least
    the probe's own buffers: smaller ones may be served from a cache, faster than
    the copy streamed from memory."""
    probe = hardware.drop_duplicates("device").set_index("device")
    out = cells.copy()
    batch = out["batch_size"].fillna(10).astype(int)
    sizes = [ModelSizes.for_scale(canonical_scale(s)) for s in out["scale"]]
    out["flops_per_step"] = [z.flops_per_step(b) for z, b in zip(sizes, batch)]
    flops_bound = out["flops_per_step"] / out["device"].map(probe["flops"])
    state = state_bytes_per_param(precision) * out["params"]
    streamed = state >= out["device"].map(probe["copy_bytes"])
    bytes_bound = out["bytes_per_step"] / out["device"].map(probe["bandwidth_Bps"])
    out["bound_s"] = pd.concat(
        [flops_bound, bytes_bound.where(streamed, 0.0)], axis=1
    ).max(axis=1, skipna=False)
    out["bound_by"] = (bytes_bound.where(streamed, 0.0) > flops_bound).map(
        {True: "bandwidth", False: "throughput"}
    )
    out["implausible"] = out["step_median_s"] * margin < out["bound_s"]
    return out


def with_bandwidth(
    cells: pd.DataFrame, hardware: pd.DataFrame, precision: str = "float32"
) -> pd.DataFrame:
    """The bytes a step moves at each size, the bandwidth it achieved, its fraction of
    the device's copy bandwidth, and the device's last-level cache."""
    probe = hardware.drop_duplicates("device").set_index("device")
    sizes = [ModelSizes.for_scale(canonical_scale(s)) for s in cells["scale"]]
    out = cells.assign(bytes_per_step=[s.bytes_per_step(precision) for s in sizes])
    out["achieved_Bps"] = out["bytes_per_step"] / out["step_median_s"]
    out["bandwidth_fraction"] = out["achieved_Bps"] / out["device"].map(
        probe["bandwidth_Bps"]
    )
    out["llc_bytes"] = out["device"].map(probe["llc_bytes"])
    return out


def analyse(
    cells: pd.DataFrame,
    windows: pd.DataFrame,
    baseline: str,
    settings: dict,
    spans: pd.DataFrame,
    refine_settings: refine.Settings | None = None,
) -> tuple[pd.DataFrame, dict]:
    """The speedup table and everything said about it: crossovers and their
    exceptions, the headline speedups, cost models, overlaps, and the sizes that
    refining would add next (``refine.py``, with ``refine_settings``)."""
    table, boots = speedup_table(
        windows,
        baseline,
        settings["bootstrap"],
        settings["confidence"],
        settings["seed"],
    )
    fits = {
        device: fit_device(g, settings["model_miss_flag"])
        for device, g in cells.groupby("device")
        if g["scale"].nunique() >= 2
    }
    devices = {}
    for device, g in table.groupby("device"):
        order = np.argsort(g["params"].to_numpy())
        g, reps = g.iloc[order], boots[device][:, order]
        devices[device] = {
            **describe_crossings(g, reps, settings["confidence"]),
            "headline": headline(
                g, reps, settings["confidence"], fits.get(device), fits.get(baseline)
            ),
        }
        if refine_settings:
            devices[device]["proposals"] = [
                vars(p) for p in next_sizes(g, devices[device], refine_settings)
            ]
        if device in fits and baseline in fits:
            low, high = float(g["params"].min()), float(g["params"].max())
            devices[device]["model_crossings"] = costmodel.model_crossings(
                model_of(fits[baseline]), model_of(fits[device]), low, high
            )
    summary = {
        "baseline": baseline,
        "fits": fits,
        "devices": devices,
        "overlaps": overlaps(spans),
    }
    return table, summary


def curve_of(g: pd.DataFrame, curve: str = "") -> list[refine.Size]:
    """A device's speedup curve as the refinement rules read it (ascending sizes;
    ``curve``: the curve's axes in words, where the sweep has several)."""
    return [
        refine.Size(
            canonical_scale(r.scale), float(r.params), r.ci_low, r.ci_high, curve
        )
        for r in g.itertuples()
    ]


def next_sizes(g: pd.DataFrame, entry: dict, s: refine.Settings) -> list:
    """The sizes the refinement rules would add next for one device."""
    return refine.proposals(curve_of(g), entry["crossings"], s)


def describe_crossings(
    g: pd.DataFrame, replicates: np.ndarray, confidence: float
) -> dict:
    found = crossover.crossings(
        g["scale"].to_numpy(),
        g["params"].to_numpy(dtype=float),
        g["speedup"].to_numpy(),
        g["ci_low"].to_numpy(),
        g["ci_high"].to_numpy(),
        replicates,
        confidence,
    )
    classes = crossover.classify(g["ci_low"], g["ci_high"])
    return {
        "winner_throughout": crossover.winner_throughout(g["ci_low"], g["ci_high"]),
        "sizes": [
            {"scale": canonical_scale(s), "params": float(p), "class": c}
            for s, p, c in zip(g["scale"], g["params"], classes)
        ],
        "level_scales": [
            canonical_scale(s) for s, c in zip(g["scale"], classes) if c == "level"
        ],
        "crossings": [
            {
                **vars(c),
                "between_scales": list(c.between_scales),
                "bracket_params": list(c.bracket_params),
            }
            for c in found
        ],
        "model_crossings": [],
    }


def headline(
    g: pd.DataFrame,
    replicates: np.ndarray,
    confidence: float,
    device_fit: dict | None,
    baseline_fit: dict | None,
) -> dict:
    """ "By how much", without picking the luckiest size: the speedup at the largest
    size swept, and the plateau, the geometric mean of the speedups over the sizes
    where both cost models put the step in their per-parameter (memory) regime, with
    the interval of the same mean over the bootstrap replicates (docs/METHOD.md)."""
    alpha = 100 * (1 - confidence) / 2
    last = g.iloc[-1]
    out = {
        "largest": {
            "scale": canonical_scale(last["scale"]),
            "params": float(last["params"]),
            "speedup": float(last["speedup"]),
            "ci_low": float(last["ci_low"]),
            "ci_high": float(last["ci_high"]),
        },
        "plateau": None,
    }
    bound = plateau_scales(device_fit, baseline_fit)
    at = [k for k, s in enumerate(g["scale"]) if canonical_scale(s) in bound]
    if len(at) >= 2:
        means = np.exp(np.log(replicates[:, at]).mean(axis=1))
        low, high = np.percentile(means, [alpha, 100 - alpha])
        out["plateau"] = {
            "scales": [canonical_scale(g["scale"].iloc[k]) for k in at],
            "speedup": float(np.exp(np.log(g["speedup"].iloc[at]).mean())),
            "ci_low": float(low),
            "ci_high": float(high),
        }
    return out


def plateau_scales(device_fit: dict | None, baseline_fit: dict | None) -> set:
    """The sizes both devices' cost models put in the regime that scales with the
    parameters beyond the cache (``memory``, or ``per-parameter`` without a knee)."""
    if not device_fit or not baseline_fit:
        return set()

    def bound(fit):
        return {
            z["scale"]
            for z in fit["sizes"]
            if z["regime"] in ("memory", "per-parameter")
        }

    return bound(device_fit) & bound(baseline_fit)


def fit_device(g: pd.DataFrame, miss_flag: float) -> dict:
    """One device's cost model, its regime and residual at each swept size."""
    g = g.sort_values("params")
    llc = (
        g["llc_bytes"].iloc[0]
        if "llc_bytes" in g and pd.notna(g["llc_bytes"].iloc[0])
        else None
    )
    m = costmodel.fit(g["params"], g["step_median_s"], llc)
    res = costmodel.residuals(m, g["params"], g["step_median_s"])
    bytes_per_param = float((g["bytes_per_step"] / g["params"]).median())
    scales = [canonical_scale(s) for s in g["scale"]]
    return {
        "overhead_s": m.overhead_s,
        "cache_s": m.cache_s,
        "memory_s": m.memory_s,
        "knee_params": m.knee_params,
        "llc_bytes": llc,
        "cache_Bps": bytes_per_param / m.cache_s if m.cache_s > 0 else float("inf"),
        "memory_Bps": bytes_per_param / m.memory_s if m.memory_s > 0 else float("inf"),
        "sizes": [
            {"scale": s, "params": float(p), "regime": r, "residual": float(e)}
            for s, p, r, e in zip(scales, g["params"], m.regimes(g["params"]), res)
        ],
        "missed": [s for s, r in zip(scales, res) if abs(r) > miss_flag],
    }


def model_of(fit: dict) -> costmodel.CostModel:
    """The cost model a fit's summary describes."""
    return costmodel.CostModel(
        fit["overhead_s"], fit["cache_s"], fit["memory_s"], fit["knee_params"]
    )


def overlaps(spans: pd.DataFrame) -> list[dict]:
    """Timed regions of different jobs that ran at the same time on one node (each
    span: job, start, end, and node where known: on a cluster, jobs on different
    nodes may run at once)."""
    if "node" in spans:
        spans = spans.fillna({"node": ""})
        if spans["node"].nunique() > 1:
            return [
                o
                for _, g in spans.groupby("node")
                for o in overlaps(g.drop(columns="node"))
            ]
    out, latest = [], None  # latest: the span seen so far that ends last
    for b in spans.dropna().drop_duplicates().sort_values("start").to_dict("records"):
        if (
            latest is not None
            and b["start"] < latest["end"]
            and latest["job"] != b["job"]
        ):
            out.append(
                {
                    "first": latest["job"],
                    "second": b["job"],
                    "seconds": float(min(latest["end"], b["end"]) - b["start"]),
                }
            )
        if latest is None or b["end"] > latest["end"]:
            latest = b
    return out
