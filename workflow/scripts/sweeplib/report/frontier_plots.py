"""The frontier's two figures: the crossover against the batch size, and the speedup
over (parameters, batch size) with the crossover drawn on it. As in ``plots.py``,
every text that may carry a string from elsewhere is drawn as plain text; only the
tick labels that matplotlib writes itself are mathtext."""

from __future__ import annotations

import math
import textwrap

import matplotlib

matplotlib.use("Agg")
# TeX must never run on a name from another machine's files.
matplotlib.rcParams["text.usetex"] = False
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

from ..analyse import frontier as fr  # noqa: E402
from ..common.formatting import finite  # noqa: E402
from .plots import plain, two_and_five  # noqa: E402

# How each kind of crossover is drawn on the frontier: (marker, filled, legend words).
MARKS = {
    "point": ("o", True, "about here, with its interval (bar)"),
    "range": ("s", False, "somewhere within the bar (no point claimed)"),
    "open_below": ("v", True, "at or below here (arrow: no lower bound)"),
    "open_above": ("^", True, "above here, if at all (arrow: no upper bound)"),
    fr.FASTER: ("v", False, "faster at every size: at or below the smallest swept"),
    fr.SLOWER: ("^", False, "slower at every size: above the largest swept, if at all"),
}
UNDRAWN = (fr.UNCLEAR, fr.BEHIND)
ARROW = 3.0  # an open bound's arrow spans this factor of parameters
DODGE = 1.12  # series at one batch size are set apart by this factor


def _name(labels: dict, machine: str, device: str, base: str, precision: str) -> str:
    """A line's name; the machine's label first, unless it is "" (one machine)."""
    get = (labels or {}).get
    pair = f"{get(device, device)} over {get(base, base)}, {precision}"
    where = get(machine, machine)
    return f"{where}: {pair}" if where else pair


def _plain(fig) -> None:
    """Every text of the figure that is not a tick label as plain text."""
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            plain(ax, legend)
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts):
            text.set_parse_math(False)
    for text in fig.texts:
        text.set_parse_math(False)
    for legend in fig.legends:
        for text in legend.get_texts():
            text.set_parse_math(False)
    if fig._suptitle is not None:
        fig._suptitle.set_parse_math(False)


def _batch_axis(axis, batches) -> None:
    """Batch sizes as the ticks, written as plain numbers (32, 100, 1000)."""
    axis.set_major_locator(FixedLocator(sorted(batches)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def frontier_figure(frontier: pd.DataFrame, labels: dict):
    """The crossover (parameters, log) against the batch size (log), one colour per
    (machine, device, precision): each point with its interval, each range as a
    bar, open bounds as arrows, joined through ``frontier.value`` (solid between
    points, dotted where a bound or a range's middle stands in); states without a
    bound are named in the legend. Series at the same batch size are set slightly
    apart, so that none hides another."""
    fig, ax = plt.subplots(figsize=(8, 7))
    if not len(frontier):
        return _empty(fig, ax, "No device to compare: no crossover to draw.")
    batches = sorted(set(frontier["batch_size"]))
    groups = list(fr._groups(frontier))
    kinds, unbounded, handles, names = set(), [], [], []
    for n, ((machine, device, precision), g) in enumerate(groups):
        colour = f"C{n % 10}"
        name = _name(labels, machine, device, g["baseline"].iloc[0], precision)
        apart = DODGE ** (n - (len(groups) - 1) / 2)
        known = [r for _, r in g.iterrows() if finite(fr.value(r))]
        for a, b in zip(known, known[1:]):
            both = a["kind"] == b["kind"] == "point"
            ax.plot(
                [a["batch_size"] * apart, b["batch_size"] * apart],
                [fr.value(a), fr.value(b)],
                "-" if both else ":",
                color=colour,
                lw=1.5,
                alpha=0.8,
            )
        handles.append(Line2D([], [], color=colour, lw=2))
        names.append(name)
        for _, r in g.iterrows():
            if r["kind"] in UNDRAWN:
                unbounded.append(f"{name}, batch {r['batch_size']}: {r['kind']}")
                continue
            kinds.add(r["kind"])
            _mark(ax, r, r["batch_size"] * apart, colour)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="batch size (samples per step)",
        ylabel="crossover (parameters)",
        title="Where the device overtakes the baseline, against the batch size",
    )
    if len(batches) == 1:
        b = batches[0]
        ax.set_xlim(b / 3, b * 3)
        ax.text(
            0.5,
            0.96,
            f"One batch size only ({b}): no frontier to trace across batch sizes.",
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=9,
            bbox={"fc": "lightyellow", "ec": "grey"},
        )
    else:
        ax.set_xlim(batches[0] / 1.6, batches[-1] * 1.6)
    _batch_axis(ax.xaxis, batches)
    _fit_y(ax, frontier)
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", axis="y", alpha=0.12)
    for kind in MARKS:
        if kind in kinds:
            marker, filled, words = MARKS[kind]
            handles.append(
                Line2D(
                    [],
                    [],
                    color="k",
                    marker=marker,
                    ls="",
                    mfc="k" if filled else "white",
                )
            )
            names.append(words)
    if any(k != "point" for k in kinds) and len(batches) > 1:
        handles.append(Line2D([], [], color="k", ls=":"))
        names.append("dotted: joined through a bound or a range's middle")
    for line in unbounded:
        handles.append(Line2D([], [], ls="", marker="x", color="grey"))
        names.append(
            textwrap.fill(
                f"no bound on the crossover: {line}", 110, subsequent_indent="  "
            )
        )
    ax.legend(
        handles,
        names,
        fontsize=7.5,
        loc="upper left",
        bbox_to_anchor=(0, -0.1),
        ncol=1,
        frameon=False,
    )
    _plain(fig)
    fig.tight_layout()
    return fig


def _mark(ax, r, x: float, colour: str) -> None:
    marker, filled, _ = MARKS[r["kind"]]
    low, high = r["low"], r["high"]
    face = colour if filled else "white"
    if r["kind"] in ("point", "range"):
        y = fr.value(r)
        ax.errorbar(
            [x],
            [y],
            yerr=[[y - low], [high - y]],
            color=colour,
            marker=marker,
            mfc=face,
            mec=colour,
            capsize=4,
            lw=3 if r["kind"] == "range" else 1.5,
            ms=7,
            zorder=3,
        )
        return
    y = float(r["params"])
    to = y / ARROW if r["kind"] in ("open_below", fr.FASTER) else y * ARROW
    ax.annotate(
        "",
        xy=(x, to),
        xytext=(x, y),
        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.5},
    )
    ax.plot([x], [y], marker=marker, color=colour, mfc=face, mec=colour, ms=9, zorder=3)


def _fit_y(ax, frontier: pd.DataFrame) -> None:
    """Room for every bar and arrow, and at least a decade."""
    values = []
    for _, r in frontier.iterrows():
        for v in (r["low"], r["high"], r["params"]):
            if finite(v) and v > 0:
                values += [v / ARROW, v * ARROW] if r["kind"] in MARKS else []
    if not values:
        return
    low, high = min(values) / 1.3, max(values) * 1.3
    if high / low < 10:
        mid = math.sqrt(low * high)
        low, high = mid / math.sqrt(10), mid * math.sqrt(10)
    ax.set_ylim(low, high)


def _empty(fig, ax, message: str):
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    _plain(fig)
    return fig


def frontier_plot(frontier: pd.DataFrame, labels: dict, path):
    """``frontier_figure`` saved to ``path`` and closed; the (closed) figure."""
    return _save(frontier_figure(frontier, labels), path)


def _save(fig, path):
    try:
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return fig


# --- the speedup map ------------------------------------------------------------------


def speedup_map_figure(table: pd.DataFrame, frontier: pd.DataFrame, labels: dict):
    """Per (machine, device, precision), one panel: a row per batch size, a cell per
    size swept (parameters, log), coloured by the speedup on a diverging log scale
    centred at 1 (blue: the device is faster, red: the baseline is), hatched where
    the interval contains 1; each row's crossover drawn under its speedups (a point
    with its interval, a range as a bar, open bounds as arrowheads), joined across
    the rows."""
    groups = list(table.groupby(fr.GROUP, sort=True)) if len(table) else []
    if not groups:
        fig, ax = plt.subplots(figsize=(8, 3))
        return _empty(fig, ax, "No speedup to map.")
    heights = [g["batch_size"].nunique() + 0.8 for _, g in groups]
    fig, axes = plt.subplots(
        len(groups),
        1,
        figsize=(9, max(4.0, 1.6 + 0.75 * sum(heights))),
        squeeze=False,
        height_ratios=heights,
        layout="constrained",
    )
    speedups = table["speedup"][table["speedup"] > 0]
    reach = max(2.0, float(np.exp(np.abs(np.log(speedups)).max())) * 1.05)
    norm = LogNorm(vmin=1 / reach, vmax=reach)
    mesh, kinds = None, set()
    for ax, ((machine, device, precision), g) in zip(axes[:, 0], groups):
        mine = frontier[
            (frontier["machine"] == machine)
            & (frontier["device"] == device)
            & (frontier["precision"] == precision)
        ]
        base = mine["baseline"].iloc[0] if len(mine) else "the baseline"
        mesh = _panel(ax, g, mine, norm)
        kinds |= set(mine["kind"])
        ax.set_title(_name(labels, machine, device, base, precision), fontsize=10)
    axes[-1, 0].set_xlabel("parameters")
    bar = fig.colorbar(mesh, ax=list(axes[:, 0]), pad=0.01, fraction=0.04)
    bar.set_label(
        "speedup over the baseline (×, log scale)\nblue: the device is faster"
    )
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    bar.ax.yaxis.set_minor_formatter(FuncFormatter(two_and_five))
    fig.suptitle("Speedup over model size and batch size, with the crossover")
    handles, names = _map_legend(kinds)
    fig.legend(handles, names, loc="outside lower center", ncol=2, fontsize=7.5)
    _plain(fig)
    return fig


def _map_legend(kinds: set) -> tuple[list, list]:
    handles = [Patch(fc="white", ec="grey", hatch="///")]
    names = ["hatched: the speedup's interval contains 1 (indistinguishable)"]
    words = {
        "point": ("D", "white", "crossover about here; bar: its interval"),
        "range": ("|", "k", "bar: crossover somewhere within (no point claimed)"),
        "open_below": ("<", "k", "crossover at or below here"),
        "open_above": (">", "k", "crossover above here, if at all"),
        fr.FASTER: ("<", "white", "faster at every size: at or below the smallest"),
        fr.SLOWER: (">", "white", "slower at every size: above the largest, if at all"),
    }
    for kind, (marker, face, text) in words.items():
        if kind in kinds:
            handles.append(
                Line2D([], [], color="k", marker=marker, mfc=face, ls="", ms=7)
            )
            names.append(text)
    return handles, names


def _panel(ax, g: pd.DataFrame, mine: pd.DataFrame, norm):
    batches = sorted(set(g["batch_size"]))
    cmap = plt.get_cmap("RdBu")
    mesh = None
    xs, ys = [], []
    written = g.groupby("batch_size")["params"].nunique().max() <= 14
    for i, batch in enumerate(batches):
        row = g[g["batch_size"] == batch].sort_values("params")
        p = row["params"].to_numpy(dtype=float)
        edges = _edges(p)
        s = row["speedup"].to_numpy(dtype=float)
        mesh = ax.pcolormesh(
            edges, [i - 0.5, i + 0.5], s[None, :], cmap=cmap, norm=norm, shading="flat"
        )
        level = ((row["ci_low"] <= 1) & (row["ci_high"] >= 1)).to_numpy()
        for k in np.flatnonzero(level):
            ax.add_patch(
                Rectangle(
                    (edges[k], i - 0.5),
                    edges[k + 1] - edges[k],
                    1,
                    fill=False,
                    hatch="///",
                    ec="grey",
                    lw=0,
                    alpha=0.6,
                )
            )
        if written:
            for x, v in zip(p, s):
                dark = abs(math.log(v)) > 0.55 * math.log(norm.vmax)
                ax.text(
                    x,
                    i + 0.22,
                    f"{v:.2g}",
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="white" if dark else "k",
                )
        hit = mine[mine["batch_size"] == batch]
        if len(hit):
            y = _crossover_mark(ax, hit.iloc[0], i - 0.15, edges)
            if y is not None:
                xs.append(y)
                ys.append(i - 0.15)
    if len(xs) > 1:
        ax.plot(xs, ys, "k--", lw=1, alpha=0.7)
    ax.set_xscale("log")
    ax.set_xlim(min(ax.get_xlim()[0], g["params"].min() / 2), ax.get_xlim()[1])
    ax.set_ylim(-0.5, len(batches) - 0.5)
    ax.set_yticks(range(len(batches)), [f"{b:g}" for b in batches])
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylabel("batch size")
    return mesh


def _edges(p: np.ndarray) -> np.ndarray:
    """Cell edges at the geometric middles between sizes (a size alone: ×/÷ 1.5)."""
    if len(p) == 1:
        return np.array([p[0] / 1.5, p[0] * 1.5])
    mids = np.sqrt(p[:-1] * p[1:])
    return np.concatenate([[p[0] ** 2 / mids[0]], mids, [p[-1] ** 2 / mids[-1]]])


def _crossover_mark(ax, r, y: float, edges: np.ndarray) -> float | None:
    """The row's crossover on the map, at height ``y``; the value it is joined at."""
    kind = r["kind"]
    if kind in ("point", "range"):
        v = fr.value(r)
        ax.plot([r["low"], r["high"]], [y, y], "k-", lw=3 if kind == "range" else 1.5)
        ax.plot([r["low"], r["high"]], [y, y], "k|", ms=10, mew=1.5)
        if kind == "point":
            ax.plot([v], [y], "kD", ms=6, mfc="white", zorder=4)
        return v
    if kind in ("open_below", fr.FASTER):
        v = r["high"]
        ax.plot([v], [y], "k<", ms=9, mfc="white" if kind == fr.FASTER else "k")
        return v
    if kind in ("open_above", fr.SLOWER):
        v = r["low"]
        ax.plot([v], [y], "k>", ms=9, mfc="white" if kind == fr.SLOWER else "k")
        return v
    ax.text(
        math.sqrt(edges[0] * edges[1]),
        y,
        f"{kind}",
        ha="left",
        va="center",
        fontsize=7.5,
        bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1},
    )
    return None


def speedup_map(table: pd.DataFrame, frontier: pd.DataFrame, labels: dict, path):
    """``speedup_map_figure`` saved to ``path`` and closed; the (closed) figure."""
    return _save(speedup_map_figure(table, frontier, labels), path)
