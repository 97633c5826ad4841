"""The markdown report: every number of the sweep, with what it means."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from .devices import device_label
from .tables import finite, markdown_table

SEED_SOURCE = (
    "the post's table (data/seed_table.csv): an Apple M2 Max, 16-inch, 64 GB; one hand-timed run per cell, "
    "no warm-up or synchronisation, per-batch prints and per-epoch evaluation included"
)


def fmt_time(s: float) -> str:
    if not finite(s):
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_params(p: float) -> str:
    return f"{p:,.0f}"


def fmt_bw(bps: float) -> str:
    return f"{bps / 1e9:.1f} GB/s" if finite(bps) else "n/a"


def labels_of(cells: pd.DataFrame) -> dict[str, str]:
    return {r.device: device_label(r.device, r.threads) for r in cells.drop_duplicates("device").itertuples()}


def device_order(devices, baseline: str) -> list[str]:
    """The baseline first, then the others as configured."""
    devices = list(dict.fromkeys(devices))
    return [baseline] * (baseline in devices) + [d for d in devices if d != baseline]


def speedup_markdown(cells: pd.DataFrame, table: pd.DataFrame, baseline: str) -> str:
    """Params, median step time per device (with IQR), speedup over the baseline with its interval."""
    labels = labels_of(cells)
    devices = device_order(cells["device"], baseline)
    rows = []
    for scale, g in cells.groupby("scale"):
        row = {"scale": scale, "params": fmt_params(g["params"].iloc[0])}
        for d in devices:
            c = g[g["device"] == d]
            if len(c):
                c = c.iloc[0]
                flag = " ⚠" if c["flagged"] else ""
                row[f"{labels[d]} step (IQR)"] = f"{fmt_time(c['step_median_s'])} ({fmt_time(c['step_q25_s'])}–{fmt_time(c['step_q75_s'])}){flag}"
            else:
                row[f"{labels[d]} step (IQR)"] = "skipped"
        for d in devices:
            if d == baseline:
                continue
            s = table[(table["scale"] == scale) & (table["device"] == d)]
            row[f"speedup {labels[d]}"] = (
                f"{s['speedup'].iloc[0]:.2f}x [{s['ci_low'].iloc[0]:.2f}, {s['ci_high'].iloc[0]:.2f}]" if len(s) else "n/a"
            )
        rows.append(row)
    return markdown_table(pd.DataFrame(rows))


def crossover_sentences(summary: dict, labels: dict[str, str], confidence: float) -> list[str]:
    out = []
    base = labels.get(summary["baseline"], summary["baseline"])
    for device, entry in summary["devices"].items():
        name = labels.get(device, device)
        if entry["faster_throughout"]:
            winner = labels.get(entry["faster_throughout"], entry["faster_throughout"])
            out.append(f"**{name} against {base}: no crossover within the swept range** ({winner} faster at every size swept).")
            continue
        for c in entry["crossovers"]:
            ci = (f"{confidence:.0%} interval {fmt_params(c['low'])}–{fmt_params(c['high'])}"
                  if finite(c["low"]) else f"interval undetermined: only {c['share']:.0%} of bootstrap replicates cross nearby")
            line = (f"**{name} overtakes {base} at about {fmt_params(c['params'])} parameters** "
                    f"(between scales {c['between_scales'][0]} and {c['between_scales'][1]}; {ci}).")
            if c["suggestion"]:
                line += f" The interval is wide: {c['suggestion']}."
            out.append(line)
        if len(entry["crossovers"]) > 1:
            out.append(f"The speedup of {name} crosses 1 {len(entry['crossovers'])} times: the curve is not monotonic at this noise level.")
    return out


def regime_paragraph(summary: dict, cells: pd.DataFrame, labels: dict[str, str]) -> str:
    """Which sizes are overhead-bound and which bandwidth-bound, per device, and what it implies."""
    parts = []
    for device, fit in summary["fits"].items():
        reg = {int(s): r for s, r in fit["regimes"].items()}
        over = ", ".join(str(s) for s in sorted(reg) if reg[s] == "overhead-bound") or "none"
        band = ", ".join(str(s) for s in sorted(reg) if reg[s] == "bandwidth-bound") or "none"
        knee = fit["overhead_s"] / fit["per_param_s"] if fit["per_param_s"] > 0 else float("inf")
        parts.append(
            f"On {labels.get(device, device)} a step costs a fixed {fmt_time(fit['overhead_s'])} plus "
            f"{fit['per_param_s'] * 1e9:.3f} ns per parameter (an effective {fmt_bw(fit['effective_Bps'])}); the two are equal "
            f"near {fmt_params(knee) + ' parameters' if finite(knee) else 'no size'}. Overhead-bound scales: {over}; "
            f"bandwidth-bound: {band}."
        )
    base = summary["baseline"]
    for device, entry in summary["devices"].items():
        fb, fd = summary["fits"].get(base), summary["fits"].get(device)
        if not (fb and fd):
            continue
        if fd["overhead_s"] > fb["overhead_s"] and fd["per_param_s"] < fb["per_param_s"]:
            parts.append(
                f"{labels.get(device, device)} pays more per step in fixed cost and less per parameter than "
                f"{labels.get(base, base)}: it loses while the fixed cost dominates and wins once the weights are large enough "
                f"for memory traffic to dominate; the fitted lines cross at "
                f"{fmt_params(entry['model_crossover']) if entry['model_crossover'] else 'no positive size'} parameters."
            )
        elif fd["per_param_s"] < fb["per_param_s"]:
            parts.append(f"{labels.get(device, device)} is cheaper both per step and per parameter: it wins at every size.")
        else:
            parts.append(f"{labels.get(device, device)} is not cheaper per parameter than {labels.get(base, base)}: "
                         "the large sizes give it no advantage to grow into.")
    return " ".join(parts)


def seed_side_by_side(seed: pd.DataFrame, cells: pd.DataFrame, table: pd.DataFrame, labels: dict[str, str]) -> str:
    """The post's times and speedups next to ours, in total seconds and per step."""
    seed_wide = seed.pivot(index=["scale", "params"], columns="device", values="seconds").reset_index()
    rows = []
    for r in seed_wide.itertuples():
        row = {"params": fmt_params(r.params), "post CPU": f"{r.cpu:.1f} s", "post MPS": f"{r.mps:.1f} s",
               "post speedup": f"{r.cpu / r.mps:.2f}x", "post per step CPU / MPS": f"{fmt_time(r.cpu / 1000)} / {fmt_time(r.mps / 1000)}"}
        ours = cells[cells["scale"] == r.scale]
        for c in ours.itertuples():
            mark = "*" if c.total_extrapolated else ""
            row[f"ours {labels[c.device]}: step / total"] = f"{fmt_time(c.step_median_s)} / {c.total_s:.1f} s{mark}"
        for s in table[table["scale"] == r.scale].itertuples():
            row[f"our speedup {labels[s.device]}"] = f"{s.speedup:.2f}x"
        rows.append(row)
    return markdown_table(pd.DataFrame(rows).fillna("not run"))


def _span(timings: pd.DataFrame, inference: pd.DataFrame) -> str:
    """When the runs were measured: from the first training's start to the last check's end."""
    if "started_at" not in timings or "ended_at" not in inference or not len(inference):
        return ""
    start, end = timings["started_at"].min(), max(timings["ended_at"].max(), inference["ended_at"].max())
    fmt = lambda t: dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    return f"; the runs were measured from {fmt(start)} to {fmt(end)} UTC ({(end - start) / 60:.1f} minutes from the first training to the end of the last check)"


def render(manifest, cells, table, summary, inference, hardware, timings, toy_losses, toy_evals, toy_predictions, seed) -> str:
    conf = manifest["analysis"]["confidence"]
    labels = labels_of(cells) if len(cells) else {}
    env = manifest["environment"]
    base = manifest["baseline"]
    accelerators = [d for d in manifest["devices"] if d in ("cuda", "mps")]
    L = ["# Where does an accelerator start to beat the CPU?", ""]
    L += [f"Training the post's MLP (`Linear(100s, 300s) → ReLU → Linear(300s, 200s) → ReLU → Linear(200s, 2)`) "
          f"at {len(manifest['scales'])} scales on {', '.join(labels.get(d, d) for d in manifest['devices'])}; "
          f"every speedup is against **{labels.get(base, base)}**."]
    if not accelerators:
        L += ["", f"> **No accelerator on this machine.** The comparison is a stand-in: all {env['usable_cores']} CPU cores "
                  f"(`cpu`) against one thread (`cpu1`). It exercises the whole method; it says nothing about GPUs. "
                  "Run the same command on a CUDA or MPS machine for the real comparison."]
    L += ["", "## Result", ""]
    L += crossover_sentences(summary, labels, conf) or ["Only one device was run: there is nothing to compare."]
    L += ["", "## Speedup table", "",
          f"Median time of one training step (batch, forward, backward, SGD update; device synchronised), its interquartile range, "
          f"and the speedup over {labels.get(base, base)} as a ratio of medians with a {conf:.0%} bootstrap interval. "
          f"⚠ marks a cell whose IQR exceeds {manifest['analysis']['spread_flag']:.0%} of its median.", ""]
    L += [speedup_markdown(cells, table, base) if len(cells) else "No runs.\n"]
    L += ["![Speedup against parameters](crossover.png)", "", "![Step time against parameters](step_time.png)", ""]
    flagged = cells[cells["flagged"]] if len(cells) else cells
    if len(flagged):
        L += ["### Noisy cells", "",
              "These cells' spread is over the threshold: their medians are less certain than the rest, and a speedup "
              "or crossover that rests on them is correspondingly wider; rerun them on a quieter machine or with more repeats "
              "before relying on them.", ""]
        L += [markdown_table(flagged.assign(iqr=flagged["iqr_rel"].map(lambda v: f"{v:.0%}"))[["scale", "device", "iqr", "timed_steps"]])]
    L += ["## Why: a cost model", "", regime_paragraph(summary, cells, labels), ""]
    if len(hardware):
        hw = hardware.assign(label=hardware["device"].map(lambda d: labels.get(d, d)))
        rows = [{"device": r.label, "copy bandwidth": fmt_bw(r.bandwidth_Bps), "matmul (fp32)": f"{r.flops / 1e9:.1f} GFLOP/s",
                 "fitted overhead": fmt_time(summary["fits"].get(r.device, {}).get("overhead_s", float("nan"))),
                 "fitted per-parameter cost": f"{summary['fits'].get(r.device, {}).get('per_param_s', float('nan')) * 1e9:.3f} ns",
                 "effective bandwidth": fmt_bw(summary["fits"].get(r.device, {}).get("effective_Bps", float("nan")))}
                for r in hw.itertuples()]
        L += ["Measured in the same run: the bandwidth of a large-tensor copy and the throughput of a square matrix product "
              "(hardware probe), beside the fitted cost model's terms.", "", markdown_table(pd.DataFrame(rows))]
        for device, entry in summary["devices"].items():
            mc, xs = entry["model_crossover"], entry["crossovers"]
            if mc and xs:
                L += [f"The cost model puts the crossover of {labels.get(device, device)} at {fmt_params(mc)} parameters, "
                      f"{abs(math.log(mc / xs[0]['params'])) / math.log(2):.2f} octaves from the interpolated {fmt_params(xs[0]['params'])}.", ""]
        bw = cells.assign(device=cells["device"].map(labels))[["scale", "params", "device", "bytes_per_step", "achieved_Bps", "bandwidth_fraction"]]
        bw = bw.assign(params=bw["params"].map(fmt_params), bytes_per_step=bw["bytes_per_step"].map(lambda b: f"{b / 1e6:,.1f} MB"),
                       achieved_Bps=bw["achieved_Bps"].map(fmt_bw), bandwidth_fraction=bw["bandwidth_fraction"].map(lambda f: f"{f:.0%}"))
        L += ["Achieved bandwidth of each run: bytes a step must move (docs/METHOD.md) over its median time, "
              "as a fraction of the device's copy bandwidth.", "", markdown_table(bw)]
    L += ["## The post's table beside ours", "",
          f"Source: {SEED_SOURCE}. The machines differ (see Environment), so compare shapes and ratios, not seconds. "
          "The post's per-step figure is its total over 1,000 steps (evaluation and prints included). "
          "Our totals are the post's whole protocol; * marks totals extrapolated from the timed steps.", ""]
    L += [seed_side_by_side(seed, cells, table, labels) if len(cells) else ""]
    L += ["## Inference checks", "",
          "Each checkpoint was reloaded in a fresh process (`weights_only=True`), the model rebuilt from the checkpoint alone, "
          "and its test-set logits compared with those recorded at the end of training.", ""]
    if len(inference):
        inf = inference.assign(device=inference["device"].map(lambda d: labels.get(d, d)))
        inf = inf.assign(max_abs_diff=inf["max_abs_diff"].map(lambda v: f"{v:.1e}"), accuracy=inf["accuracy"].map(lambda v: f"{v:.3f}"),
                         infer_batch_median_s=inf["infer_batch_median_s"].map(fmt_time))
        L += [markdown_table(inf[["scale", "device", "predictions_equal", "max_abs_diff", "accuracy", "infer_batch_median_s"]]),
              "Accuracy near 0.5 is expected: the labels are random, as in the post.", ""]
        diverged = inference[inference["nonfinite_logits"] > 0]
        if len(diverged):
            L += [f"**Diverged training:** {len(diverged)} run(s) ended with non-finite logits "
                  f"(scales {', '.join(map(str, sorted(set(diverged['scale']))))}); their step times are still valid "
                  "measurements, but lower `lr` to train them meaningfully.", ""]
    L += ["## The toy example (the post's Part 1)", "",
          "Trained exactly as the post trains it (seed 123, batch 2, `drop_last`, 3 epochs), saved, then reloaded in a fresh process.", ""]
    tl = toy_losses.assign(loss=toy_losses["loss"].map(lambda v: f"{v:.2f}"))
    L += [markdown_table(tl), f"Eval accuracy per epoch: {', '.join(f'{a:.2f}' for a in toy_evals['accuracy'])}. "
          f"Predictions after reloading: {toy_predictions['predicted'].tolist()} (labels {toy_predictions['label'].tolist()}).", ""]
    if manifest["skipped"]:
        L += ["## Skipped runs", "", "Not attempted: the memory estimate exceeds what the device has free.", "",
              markdown_table(pd.DataFrame(manifest["skipped"])[["scale", "device", "params", "reason"]])]
    L += ["## Environment", ""]
    L += [f"- {k}: {v}" for k, v in env.items()]
    for d in manifest["devices"]:
        h = manifest["hardware"][d]["device"]
        L += [f"- {labels.get(d, d)}: {h['hardware']}, {h['threads']} CPU thread{'s' if h['threads'] != 1 else ''}, "
              f"machine tag `{h['machine']}`"]
    L += ["", "## Runs and their keys", "",
          "Each run lives in `results/runs/scale<S>/<device>/<key>/`; the key hashes every setting that affects it "
          "(model, data, protocol, timing, device and threads, torch version, the measuring code). Rows are keyed by machine tag: "
          "results from another machine never share a key with this one's.", ""]
    if len(timings):
        t = timings.drop_duplicates("run_key").sort_values(["scale", "device"])
        t = t.assign(total=t.apply(lambda r: f"{r.total_s:.1f} s" + (" (extrapolated)" if r.total_extrapolated else ""), axis=1))
        L += [markdown_table(t[["scale", "device", "run_key", "machine", "threads", "timed_steps", "protocol_steps", "total", "wall_s"]]
                             .assign(wall_s=t["wall_s"].map(lambda v: f"{v:.1f} s")))]
        span = _span(timings, inference)
        L += [f"The training functions took {t['wall_s'].sum():.0f} s in all{span}.", ""]
    L += ["## Reproduce", "", "```", "snakemake --cores 1", "```", "",
          "with the settings in `config/config.yaml` (the resolved settings are in `results/sweep.json`). "
          "docs/METHOD.md says exactly what is timed and how every figure is computed.", ""]
    return "\n".join(L)
