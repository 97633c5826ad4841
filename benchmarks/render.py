"""docs/PERFORMANCE.md from the benchmark's results."""

from __future__ import annotations

import datetime as dt

import pandas as pd

import pipeline
from sweeplib.common.formatting import markdown_table


def ms(x: float) -> str:
    return f"{x * 1e3:.3f} ms"


def iqr(s: dict, fmt=ms) -> str:
    return f"{fmt(s['median'])} ({fmt(s['q25'])}–{fmt(s['q75'])}, n={s['n']})"


def section(title: str, prose: str, rows: list[dict] | None = None) -> list[str]:
    """A heading, a paragraph, and a table of ``rows`` if there are any."""
    table = [markdown_table(pd.DataFrame(rows))] if rows else []
    return [f"## {title}", "", prose, "", *table]


def render(r: dict, env: dict, command: str, seconds: float) -> str:
    when = dt.datetime.now(dt.UTC)
    dir_note = (
        " (DIR: a fresh clone in which the default sweep had just run from scratch)"
        if "DIR" in command
        else ""
    )
    lines = [
        "# Performance of the harness and the pipeline",
        "",
        f"Measured {when:%Y-%m-%d %H:%M} UTC by `{command}` in {seconds / 60:.1f} "
        f"minutes{dir_note}, "
        f"on: {env['cpu_model']}, {env['usable_cores']} usable cores, {env['os']}, "
        f"Python {env['python']}, torch {env['torch']}; CPU runs with {r['threads']} "
        "threads. Figures are medians with the interquartile range and the number of "
        "measurements; the machine is shared, so compare ratios taken in the same "
        "run.",
        "",
    ]
    for part in (fidelity, loaders, bound, processes, overhead, scaling, memory):
        lines += part(r)
    return "\n".join(lines)


def fidelity(r: dict) -> list[str]:
    rows = [
        {
            "scale": f["scale"],
            "harness step": iqr(f["harness_s"]),
            "bare step": iqr(f["bare_s"]),
            "ratio": f"{f['ratio']['median']:.3f} ({f['ratio']['q25']:.3f}–"
            f"{f['ratio']['q75']:.3f})",
        }
        for f in r["fidelity"]
    ]
    return section(
        "1. Harness fidelity",
        "The workflow's timed loop (`timing.run_rounds`: per-step clock reads and "
        "synchronisation, batch fetch included) against a hand-written loop doing "
        "the same work (same model, data, batch 10, SGD, the post's DataLoader) "
        "timed as one block, alternating which runs first, in one process. Ratio = "
        "harness mean step / bare mean step; goal 1.00 ± 0.05.",
        rows,
    )


def loaders(r: dict) -> list[str]:
    rows = [
        {
            "scale": x["scale"],
            "loader": x["loader"],
            "num_workers": x["num_workers"],
            "step": iqr(x["step_s"]),
            "ratio to the post's": f"{x['ratio_to_post']:.2f}",
            "data share": f"{x['data_share']['median']:.0%}",
        }
        for x in r["loaders"]
    ]
    return section(
        "2. Data loading",
        "Per-step time (median of per-round medians) with each loader, measured by "
        "the harness in rotating order; `data share` is the fraction of step time "
        "spent fetching the batch. The ratio is to the post's loader (`DataLoader`, "
        "one sample per `__getitem__`, `num_workers=0`). Set with `train.loader` and "
        "`train.num_workers`.",
        rows,
    )


def bound(r: dict) -> list[str]:
    b = r["bound"]
    return section(
        "3. The hardware bound",
        f"Scale {b['scale']} ({b['params']:,} parameters) on the CPU: the "
        f"bytes-per-step model (docs/METHOD.md) gives {b['bytes_per_step'] / 1e9:.2f} "
        f"GB per step. Median step {iqr(b['step_s'])}; achieved "
        f"{b['achieved_Bps'] / 1e9:.1f} GB/s against a large copy's "
        f"{b['copy_Bps'] / 1e9:.1f} GB/s in the same run: **{b['fraction']:.0%} of "
        f"the bandwidth bound**. The memory-bound time is {ms(b['memory_bound_s'])}; "
        f"the step takes {b['step_over_bound']:.2f}× that.",
    )


def processes(r: dict) -> list[str]:
    sweep = r.get("default_sweep") or r.get("small_sweep")
    if not sweep:
        return section("4. Processes and rounds", "Not measured in this run.")
    rows = [
        {
            "scale": c["scale"],
            "params": f"{c['params']:,}",
            "processes × rounds": f"{c['processes']} × {c['rounds']}",
            "one process": f"{c['process_wall_s']:.1f} s",
            "of which not rounds": f"{c['fixed_s']:.1f} s",
            "building the models": f"{c['build_s']:.1f} s",
            "warm-up": f"{c['warmup_s']:.1f} s",
            "one round": f"{c['round_s']:.2f} s",
            "switch step / window median": f"{c['switch_ratio']:.2f}",
        }
        for c in sweep["costs"]
    ]
    which = "default" if r.get("default_sweep") else "small"
    return section(
        "4. Processes and rounds",
        f"From the {which} sweep's own tables: per scale, the wall of one timing "
        "process (interpreter start-up and imports included), the part of it that is "
        "not rounds (start-up, building both models, warm-up, and in the last "
        "process the evaluation and checkpoints), the time of one round (every "
        "device's window, switch steps included), and the first step after a switch "
        "of device over its window's median (the median over both devices). The "
        "interval needs processes above all (the spread between them is what a "
        "single process cannot show), and rounds enough for each process's own "
        "median. Where a process costs seconds and a round a fraction of one (the "
        "small scales), the default config takes 4 processes of 8 rounds; where a "
        "process costs most of a minute or more and a round about 10 s (scales 50 "
        "to 100), 3 processes of 4 rounds, the 12 rounds that the sweep's 15-minute "
        "budget leaves room for.",
        rows,
    )


def overhead(r: dict) -> list[str]:
    st = r["startup"]
    starts = "; ".join(f"{k}: {v:.2f} s" for k, v in st.items())
    lines = section(
        "5. Pipeline overhead", f"Start-up of one process (median): {starts}."
    )
    for name, title in (
        ("small_sweep", "A small real sweep (scales 1, 5, 10)"),
        ("default_sweep", "The default sweep (`config/config.yaml`)"),
    ):
        s = r.get(name)
        if not s:
            lines += [f"- {title}: not measured in this run.", ""]
            continue
        lines += [
            f"- {title}: {s['jobs']} jobs and {s['processes']} timing processes in "
            f"{s['wall_s']:.1f} s wall ({s['wall_s'] / 60:.1f} minutes); its timed "
            "regions (every step, warm-up and switch steps included, evaluation "
            f"pass, inference batch and probe) add up to {s['timed_s']:.1f} s. "
            f"**Overhead beyond the timed regions: {s['overhead_vs_timed']:.0%} of "
            f"them.** The rest is start-up ({s['torch_processes']} processes import "
            f"torch, about {st['import torch']:.2f} s each), building the models, and "
            "reading and writing checkpoints and datasets. With everything up to "
            f"date, `snakemake --cores 1` takes {s['noop_s']['median']:.2f} s (min "
            f"{s['noop_s']['min']:.2f}, max {s['noop_s']['max']:.2f}, "
            f"n={s['noop_s']['n']}).",
            "",
        ]
    return lines


def scaling(r: dict) -> list[str]:
    sizes = sorted(r["plan"], key=int)
    ns = [int(n) for n in sizes]
    rows = [
        {
            "scales": n,
            "plan (dry run)": f"{r['plan'][n]:.2f} s",
            "aggregate": f"{r['aggregate'][n]:.2f} s",
        }
        for n in sizes
    ]
    plan_k = pipeline.growth(ns, [r["plan"][n] for n in sizes])
    aggregate_k = pipeline.growth(ns, [r["aggregate"][n] for n in sizes])
    return section(
        "6. Planning and aggregating large sweeps",
        "A dry run planning N scales on `cpu1` and `cpu`, and the aggregation of N "
        "scales' synthetic windows (5 processes × 6 rounds × 2 devices each) into "
        "every table, bootstrap included (2,000 replicates).",
        rows,
    ) + [
        "Growth exponents (time ∝ scales^k, fitted over the sizes above): planning k "
        f"= {plan_k:.2f}, aggregation k = {aggregate_k:.2f} (1 is linear).",
        "",
    ]


def memory(r: dict) -> list[str]:
    def mib(n):
        return f"{n / 2**20:,.0f} MiB"

    rows = [
        {
            "scale": m["scale"],
            "devices": m["devices"],
            "params": f"{m['params']:,}",
            "weights": mib(m["weights_bytes"]),
            "estimate": mib(m["estimate_bytes"]),
            "peak RSS": mib(m["peak_bytes"]),
            "peak / estimate": f"{m['ratio']:.2f}",
        }
        for m in r["memory"]
    ]
    return section(
        "7. Memory",
        "Peak RSS (VmHWM) of a fresh timing process holding one or both CPU devices' "
        "models (recorded in every timing CSV as `peak_rss_bytes`), against the host "
        "memory estimated before it ran (`sweeplib/common/memory.py`).",
        rows,
    )
