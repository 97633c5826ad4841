"""The sweep's two figures: step time and speedup against parameters. Where the sweep
has several curves (batch sizes, precisions: ``common.series``), each figure is a
grid of panels, a row per batch size and a column per precision, on shared axes.
Every text that may carry a string from elsewhere (legend entries, labels, titles)
is drawn as plain text; only the axes' tick labels, which matplotlib writes
itself, are mathtext."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
# TeX must never run on a name from another machine's files.
matplotlib.rcParams["text.usetex"] = False
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from ..analyse.analysis import model_of  # noqa: E402
from ..common.devices import device_order  # noqa: E402
from ..common.formatting import finite  # noqa: E402
from ..common.series import AXES, Series, varying, with_axes  # noqa: E402
from ..common.sizes import POST_STEPS  # noqa: E402
from .speedup_table import labels_of  # noqa: E402


def curves(
    frame: pd.DataFrame,
    summary: dict,
    names: dict[str, str],
    colours: dict[tuple[str, str], str] | None = None,
):
    """(curve id, device, rows, colour, label) of each line: every curve's devices
    (``series.py``), baseline first; a label names the machine when there are
    several (``names``: machine -> its label), and the curve's axes when they vary.
    ``colours`` fixes each (machine, device)'s colour across a grid's panels."""
    entries = summary["curves"]
    found = {
        cid: Series.of(s["series"]["machine"], s["series"])
        for cid, s in entries.items()
    }
    shown = varying(list(found.values()))
    machines = {s.machine for s in found.values()}
    frame = with_axes(frame) if len(frame) else frame
    out = []
    for cid, s in entries.items():
        series = found[cid]
        mine = frame[frame["machine"] == series.machine] if len(frame) else frame
        for axis, value in series.axes.items():
            if axis in mine:
                mine = mine[mine[axis] == value]
        labels = labels_of(mine) if "threads" in mine else {}
        for device in device_order(mine["device"], s["baseline"]):
            label = labels.get(device, device.upper())
            if len(machines) > 1:
                label = f"{names.get(series.machine, series.machine)}: {label}"
            if shown:
                label = f"{label}, {series.words(shown)}"
            rows = mine[mine["device"] == device].sort_values("params")
            colour = (colours or {}).get((series.machine, device), f"C{len(out) % 10}")
            out.append((cid, device, rows, colour, label))
    return out


def colours_of(frame: pd.DataFrame, summary: dict) -> dict[tuple[str, str], str]:
    """One colour per (machine, device) over every curve, so that a device reads the
    same in every panel of a grid and in its one legend."""
    out: dict[tuple[str, str], str] = {}
    for cid, device, *_ in curves(frame, summary, {}):
        machine = summary["curves"][cid]["series"]["machine"]
        out.setdefault((machine, device), f"C{len(out) % 10}")
    return out


def panels(summary: dict) -> list[tuple[dict, dict]]:
    """The curves grouped by their series axes' values (one panel each: every machine
    at one batch size and precision), in order: (the axes' values, the summary of
    those curves)."""
    groups: dict[tuple, dict] = {}
    for cid, entry in summary["curves"].items():
        series = Series.of(entry["series"]["machine"], entry["series"])
        groups.setdefault(series.values, {})[cid] = entry
    return [
        (dict(zip(AXES, values)), {**summary, "curves": groups[values]})
        for values in sorted(groups)
    ]


def figure_of(draw, summary: dict, ylabel: str, title: str):
    """One axes drawn by ``draw(ax, summary, is_post)``, or, with several panels, a
    grid of them (a row per batch size, a column per precision) on shared axes,
    each titled by its axes' values, with one legend below."""
    groups = panels(summary)
    post_axes = {a: axis.default for a, axis in AXES.items()}
    if len(groups) <= 1:
        fig, ax = plt.subplots(figsize=(8, 5.5))
        draw(ax, summary, True)
        finish(ax, ylabel, title)
        return fig
    rows = sorted({g["batch_size"] for g, _ in groups})
    cols = sorted({g["precision"] for g, _ in groups})
    fig, grid = plt.subplots(
        len(rows),
        len(cols),
        figsize=(4.2 * len(cols) + 1, 3.2 * len(rows) + 2.2),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    used = set()
    for values, sub in groups:
        r, c = rows.index(values["batch_size"]), cols.index(values["precision"])
        ax = grid[r][c]
        used.add((r, c))
        draw(ax, sub, values == post_axes)
        ax.set(xscale="log", yscale="log")
        ax.set_title(Series("", tuple(values.values())).words(), fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    for r, row in enumerate(grid):
        for c, ax in enumerate(row):
            if (r, c) not in used:
                ax.set_axis_off()
            if r == len(grid) - 1:
                ax.set_xlabel("parameters")
            if c == 0:
                ax.set_ylabel(ylabel)
    # One legend for the grid: each device's entries once (a crossing's band is
    # named by its numbers, which differ from panel to panel: the panels show them,
    # and frontier.png gives them).
    handles = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if not label.startswith("crossover "):
                handles.setdefault(label, handle)
    legend = fig.legend(
        handles.values(),
        handles.keys(),
        loc="lower center",
        ncol=2,
        fontsize=8,
        frameon=False,
    )
    suptitle = fig.suptitle(title)
    for ax in fig.axes:
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
            text.set_parse_math(False)
    for text in (*legend.get_texts(), suptitle):
        text.set_parse_math(False)
    # The panels fill what the legend below them leaves.
    below = legend.get_window_extent(fig.canvas.get_renderer()).height
    fig.tight_layout(rect=(0, below / fig.bbox.height + 0.01, 1, 1))
    return fig


def step_time_figure(
    cells: pd.DataFrame,
    summary: dict,
    post: pd.DataFrame,
    names: dict[str, str] | None = None,
):
    """Median window per size with the windows' IQR, each device's cost model dashed,
    sizes the model misses ringed, and the post's times per step (in the panel of
    the post's batch size and precision)."""
    colours = colours_of(cells, summary)
    return figure_of(
        lambda ax, sub, is_post: draw_step_time(
            ax, cells, sub, post, names, is_post, colours
        ),
        summary,
        "time per training step (s)",
        "Training step time against model size (dotted: the cache's knee)",
    )


def draw_step_time(ax, cells, summary, post, names, is_post: bool, colours) -> None:
    for tag, device, g, colour, label in curves(cells, summary, names or {}, colours):
        bars(
            ax,
            g,
            "step_median_s",
            "step_q25_s",
            "step_q75_s",
            colour,
            f"{label} (median window, IQR)",
        )
        fit = summary["curves"][tag]["fits"].get(device)
        if fit:
            draw_model(ax, g, fit, colour, label)
    if not is_post:
        return
    for marker, device in (("s", "cpu"), ("^", "mps")):
        s = post[post["device"] == device]
        ax.scatter(
            s["params"],
            s["seconds"] / POST_STEPS,
            marker=marker,
            facecolors="none",
            edgecolors="k",
            label=f"post, {device.upper()} (total / {POST_STEPS} steps)",
        )


def bars(ax, g: pd.DataFrame, mid: str, low: str, high: str, colour: str, label: str):
    """Points at ``mid`` against parameters, with bars from ``low`` to ``high``; sizes
    that refinement added (``added``) hollow."""
    err = np.vstack([g[mid] - g[low], g[high] - g[mid]])
    ax.errorbar(
        g["params"], g[mid], yerr=err, marker="o", color=colour, capsize=3, label=label
    )
    if "added" in g and g["added"].any():
        added = g[g["added"].astype(bool)]
        ax.scatter(
            added["params"],
            added[mid],
            s=60,
            facecolors="white",
            edgecolors=colour,
            zorder=3,
            label=f"{label}: added by refinement",
        )


def draw_model(ax, g: pd.DataFrame, fit: dict, colour: str, label: str) -> None:
    """A device's cost model, its knee, and the sizes it misses."""
    p = np.geomspace(g["params"].min(), g["params"].max(), 200)
    ax.plot(
        p,
        model_of(fit).predict(p),
        "--",
        color=colour,
        alpha=0.7,
        label=f"{label} cost model",
    )
    missed = g[g["scale"].isin(fit["missed"])]
    if len(missed):
        ax.scatter(
            missed["params"],
            missed["step_median_s"],
            s=220,
            facecolors="none",
            edgecolors="red",
            linewidths=1.5,
            label=f"{label}: missed by the model",
        )
    if fit["knee_params"]:
        ax.axvline(fit["knee_params"], color=colour, ls=":", lw=1, alpha=0.6)


def speedup_figure(
    cells: pd.DataFrame,
    table: pd.DataFrame,
    summary: dict,
    post: pd.DataFrame,
    names: dict[str, str] | None = None,
):
    """Speedup per size with its interval, one curve per (machine, device), each
    crossing (a point with its band, or a shaded range), the 1.0 line, and the post's
    speedups (in the panel of the post's batch size and precision)."""
    labelled = table.merge(
        cells[["machine", "device", "threads"]].drop_duplicates(["machine", "device"]),
        on=["machine", "device"],
        how="left",
    )
    if "added" in cells:
        at = ["machine", *AXES, "scale"]
        added = with_axes(cells)[[*at, "added"]].drop_duplicates(at)
        labelled = with_axes(labelled).merge(added, on=at, how="left")
    colours = colours_of(labelled, summary)
    fig = figure_of(
        lambda ax, sub, is_post: draw_speedup(
            ax, cells, labelled, sub, post, names, is_post, colours
        ),
        summary,
        "speedup over the baseline (×)",
        "Speedup against model size (above 1: faster than the baseline)",
    )
    # Speedups read as plain numbers (0.5, 2, 5); minor ticks are labelled at 2 and
    # 5 of each decade only, so that no label crowds the 1.0 line.
    for ax in fig.axes:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(two_and_five))
    return fig


def draw_speedup(
    ax, cells, labelled, summary, post, names, is_post: bool, colours
) -> None:
    ax.axhline(1.0, color="grey", lw=1)
    for tag, device, g, colour, label in curves(
        labelled, summary, names or {}, colours
    ):
        if g.empty:  # the baseline: nothing to compare with itself
            continue
        entry = summary["curves"][tag]
        base = entry["baseline"]
        machine = entry["series"]["machine"]
        base = labels_of(cells[cells["machine"] == machine]).get(base, base)
        bars(ax, g, "speedup", "ci_low", "ci_high", colour, f"{label} over {base}")
        for c in entry["devices"][device]["crossings"]:
            draw_crossing(ax, c, colour)
    if not is_post:
        return
    wide = post.pivot(index="params", columns="device", values="seconds").reset_index()
    ax.plot(
        wide["params"],
        wide["cpu"] / wide["mps"],
        "k^--",
        mfc="none",
        label="post: MPS over CPU (M2 Max)",
    )


def two_and_five(value: float, _=None) -> str:
    """A minor tick's label on a log axis: the value where it is 2 or 5 times a power
    of ten, nothing elsewhere."""
    digit = value / 10 ** np.floor(np.log10(value))
    return f"{value:g}" if round(digit, 6) in (2.0, 5.0) else ""


def draw_crossing(ax, c: dict, colour: str) -> None:
    """A point crossing as a dotted line with its band; a range as a hatched span."""
    low, high = c["low_params"], c["high_params"]
    if c["kind"] != "point":
        ax.axvspan(
            low,
            high,
            color=colour,
            alpha=0.08,
            hatch="//",
            label=f"crossover somewhere in {low:,.0f}–{high:,.0f}",
        )
        return
    ax.axvline(
        c["params"],
        color=colour,
        ls=":",
        lw=1.5,
        label=f"crossover at {c['params']:,.0f} parameters",
    )
    if finite(low):
        ax.axvspan(low, high, color=colour, alpha=0.12)


def finish(ax, ylabel: str, title: str) -> None:
    ax.set(xscale="log", yscale="log", xlabel="parameters", ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)
    legend = ax.legend(fontsize=8)
    plain(ax, legend)
    ax.figure.tight_layout()


def plain(ax, legend) -> None:
    """Draw the title, the axis labels and the legend's entries as plain text: a
    machine's or device's name from another machine's files may hold "$", which
    mathtext would parse (and fail on). The tick labels stay mathtext, which is how
    the log axes' formatter writes 10^5."""
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *legend.get_texts()]
    for text in texts:
        text.set_parse_math(False)
