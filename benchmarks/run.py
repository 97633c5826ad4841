"""Measure the harness and the pipeline on this machine; write docs/PERFORMANCE.md.

    python benchmarks/run.py                    # everything (about 25 minutes on 2 cores)
    python benchmarks/run.py --quick --out X.md # a few seconds of each, for tests

Every figure is the median of repeated measurements with its spread, taken in
this one run; nothing is copied from elsewhere.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
import torch  # noqa: E402

import measure  # noqa: E402
import pipeline  # noqa: E402
from sweeplib.env import host_environment  # noqa: E402
from sweeplib.tables import markdown_table  # noqa: E402

FULL = {"scales": [1, 5, 10], "rounds": 10, "loader_rounds": 6, "steps": 40, "bound_scale": 50, "bound_steps": 6, "copy_mib": 256,
        "memory_scales": [10, 30], "plan_sizes": [100, 300, 1000], "sweep": True}
QUICK = {"scales": [1], "rounds": 2, "loader_rounds": 3, "steps": 5, "bound_scale": 2, "bound_steps": 3, "copy_mib": 16,
         "memory_scales": [2], "plan_sizes": [10, 20, 40], "sweep": False}
SMALL_SWEEP = {"scales": [1, 5, 10]}


def ms(x: float) -> str:
    return f"{x * 1e3:.3f} ms"


def iqr(s: dict, fmt=ms) -> str:
    return f"{fmt(s['median'])} ({fmt(s['q25'])}–{fmt(s['q75'])}, n={s['n']})"


def run(p: dict, default_sweep: bool, log) -> dict:
    out = {"threads": torch.get_num_threads()}
    log("1. harness fidelity")
    out["fidelity"] = [measure.fidelity(s, p["rounds"], p["steps"]) for s in p["scales"]]
    log("2. loaders")
    out["loaders"] = [row for s in p["scales"] for row in measure.loader_axis(s, p["loader_rounds"], p["steps"])]
    log("3. hardware bound")
    out["bound"] = measure.hardware_bound(p["bound_scale"], p["bound_steps"], p["copy_mib"])
    log("6. memory")
    out["memory"] = [measure.memory(s, str(ROOT / "workflow" / "scripts")) for s in p["memory_scales"]]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        log("4. pipeline overhead")
        out["startup"] = pipeline.startup_costs(1 if p is QUICK else 5)
        if p["sweep"]:
            out["small_sweep"] = pipeline.sweep_overhead(tmp / "small", SMALL_SWEEP)
        if default_sweep:
            log("   the default sweep (about 11 minutes)")
            out["default_sweep"] = pipeline.sweep_overhead(tmp / "default", None, noop_repeats=3)
        log("5. planning and aggregation at scale")
        out["plan"] = {n: pipeline.plan_time(tmp / f"plan{n}", n) for n in p["plan_sizes"]}
        out["aggregate"] = {n: pipeline.aggregate_time(tmp / f"agg{n}", n) for n in p["plan_sizes"]}
    return out


def render(r: dict, env: dict, command: str, seconds: float) -> str:
    L = ["# Performance of the harness and the pipeline", "",
         f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `{command}` in {seconds / 60:.1f} minutes, on: "
         f"{env['cpu_model']}, {env['usable_cores']} usable cores, {env['os']}, Python {env['python']}, torch {env['torch']}; "
         f"CPU runs with {r['threads']} threads. Figures are medians with the interquartile range and the number of "
         "measurements; the machine is shared, so compare ratios taken in the same run.", ""]
    L += ["## 1. Harness fidelity", "",
          "The workflow's timed step (`train_timed`: per-step clock reads and synchronisation, batch fetch included) against a "
          "hand-written loop doing the same work (same model, data, batch 10, SGD, the post's DataLoader) timed as one block, "
          "alternating which runs first, in one process. Ratio = harness mean step / bare mean step; goal 1.00 ± 0.05.", ""]
    L += [markdown_table(pd.DataFrame(
        [{"scale": f["scale"], "harness step": iqr(f["harness_s"]), "bare step": iqr(f["bare_s"]),
          "ratio": f"{f['ratio']['median']:.3f} ({f['ratio']['q25']:.3f}–{f['ratio']['q75']:.3f})"} for f in r["fidelity"]]))]
    L += ["## 2. Data loading", "",
          "Per-step time (median of per-round medians) with each loader, measured by the harness in rotating order; "
          "`data share` is the fraction of step time spent fetching the batch. The ratio is to the post's loader "
          "(`DataLoader`, one sample per `__getitem__`, `num_workers=0`). Set with `train.loader` and `train.num_workers`.", ""]
    L += [markdown_table(pd.DataFrame(
        [{"scale": x["scale"], "loader": x["loader"], "num_workers": x["num_workers"], "step": iqr(x["step_s"]),
          "ratio to the post's": f"{x['ratio_to_seed']:.2f}", "data share": f"{x['data_share']['median']:.0%}"} for x in r["loaders"]]))]
    b = r["bound"]
    L += ["## 3. The hardware bound", "",
          f"Scale {b['scale']} ({b['params']:,} parameters) on the CPU: the bytes-per-step model (docs/METHOD.md) gives "
          f"{b['bytes_per_step'] / 1e9:.2f} GB per step. Median step {iqr(b['step_s'])}; achieved "
          f"{b['achieved_Bps'] / 1e9:.1f} GB/s against a large copy's {b['copy_Bps'] / 1e9:.1f} GB/s in the same run: "
          f"**{b['fraction']:.0%} of the bandwidth bound**. The memory-bound time is {ms(b['memory_bound_s'])}; the step takes "
          f"{b['step_over_bound']:.2f}× that.", ""]
    L += ["## 4. Pipeline overhead", ""]
    st = r["startup"]
    L += ["Start-up of one job's process (median of repeated runs): " + "; ".join(f"{k}: {v:.2f} s" for k, v in st.items()) + ".", ""]
    for name, title in (("small_sweep", "A small real sweep (scales 1, 5, 10, the default protocol's caps)"),
                        ("default_sweep", "The default sweep (`config/config.yaml`)")):
        s = r.get(name)
        if not s:
            L += [f"- {title}: not measured in this run.", ""]
            continue
        L += [f"- {title}: {s['jobs']} jobs in {s['wall_s']:.1f} s wall; its timed regions (every step, evaluation pass, "
              f"inference batch and probe) add up to {s['timed_s']:.1f} s, its training functions (model building included) "
              f"to {s['training_functions_s']:.1f} s, its inference checks to {s['check_functions_s']:.1f} s. "
              f"Overhead beyond the timed regions: {s['overhead_vs_timed']:.0%} of them; "
              f"beyond the training functions: {s['overhead_vs_training']:.0%}. The rest is start-up: {s['jobs']} processes, "
              f"{s['torch_jobs']} of which import torch ({s['torch_jobs']} × {r['startup']['import torch']:.2f} s ≈ "
              f"{s['torch_jobs'] * r['startup']['import torch']:.0f} s), and reading and writing checkpoints and datasets. "
              f"With everything up to date, `snakemake --cores 1` takes {s['noop_s']['median']:.2f} s "
              f"(min {s['noop_s']['min']:.2f}, max {s['noop_s']['max']:.2f}, n={s['noop_s']['n']}).", ""]
    L += ["What was done to cut start-up: planning reads the torch version from package metadata and does not import torch "
          "when the build cannot have an accelerator (a `+cpu` build off macOS), saving the `import torch` above on every "
          "`snakemake` call; the aggregation, analysis, plot and report jobs import no torch.", ""]
    L += ["## 5. Planning and aggregating large sweeps", "",
          "A dry run planning N (scale, device) runs (N/2 scales on `cpu1` and `cpu`), and the aggregation of N runs' "
          "synthetic timing and step files (100 steps each) into every table, bootstrap included (2,000 resamples).", ""]
    sizes = sorted(r["plan"], key=int)
    L += [markdown_table(pd.DataFrame(
        [{"runs": n, "plan (dry run)": f"{r['plan'][n]:.2f} s", "aggregate": f"{r['aggregate'][n]:.2f} s"} for n in sizes]))]
    L += [f"Growth exponents (time ∝ runs^k, fitted over the sizes above): planning k = "
          f"{pipeline.growth([int(n) for n in sizes], [r['plan'][n] for n in sizes]):.2f}, aggregation k = "
          f"{pipeline.growth([int(n) for n in sizes], [r['aggregate'][n] for n in sizes]):.2f} (1 is linear).", ""]
    L += ["## 6. Memory", "",
          "Peak RSS of a fresh process training one scale on the CPU (recorded in every run's timing CSV as `peak_mem_bytes`), "
          "against the footprint estimated before it ran (`sweeplib/memory.py`: process, weights, gradients, activations, data).", ""]
    L += [markdown_table(pd.DataFrame(
        [{"scale": m["scale"], "params": f"{m['params']:,}", "weights": f"{m['weights_bytes'] / 2**20:,.0f} MiB",
          "estimate": f"{m['estimate_bytes'] / 2**20:,.0f} MiB", "peak RSS": f"{m['peak_bytes'] / 2**20:,.0f} MiB",
          "peak / estimate": f"{m['ratio']:.2f}"} for m in r["memory"]]))]
    return "\n".join(L)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for tests")
    ap.add_argument("--default-sweep", action="store_true", help="also run the default sweep (about 11 minutes) to measure its overhead")
    ap.add_argument("--out", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    args = ap.parse_args(argv)
    started = time.perf_counter()
    results = run(QUICK if args.quick else FULL, args.default_sweep, log=lambda s: print(s, file=sys.stderr, flush=True))
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "") + (" --default-sweep" if args.default_sweep else "")
    text = render(results, host_environment(), command, time.perf_counter() - started)
    Path(args.out).write_text(text)
    (Path(args.out).with_suffix(".json")).write_text(pipeline.dump(results))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
