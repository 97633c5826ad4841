"""What the report says, section by section: each function below computes one
section's values; ``templates/report.md.j2`` holds the prose around them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd

from ..analyse.analysis import timing_processes
from ..analyse.clocks import clock_notes, clock_warnings
from ..analyse.frontier import frontier_table, monotone_notes
from ..analyse.frontier import markdown as frontier_markdown
from ..analyse.frontier import sentences as frontier_sentences
from ..common import keys
from ..common.devices import ACCELERATORS, INTERLEAVED
from ..common.formatting import (
    finite,
    fmt_bw,
    fmt_bytes,
    fmt_params,
    fmt_speedup,
    fmt_time,
    markdown_table,
    md_text,
)
from ..common.series import AXES, Series, varying, with_axes
from ..common.sizes import (
    POST_STEPS,
    STATE_BYTES_PER_PARAM,
    ModelSizes,
    canonical_scale,
)
from ..measure import toy as toy_example
from ..plan.machines import machine_label
from .speedup_table import labels_of, speedup_markdown

RESOURCES = ("templates/report.md.j2",)

POST_SOURCE = (
    "the post's table (data/post_table.csv): an Apple M2 Max, 16-inch, 64 GB; one "
    "hand-timed run per cell, no warm-up or synchronisation, per-batch prints and "
    "per-epoch evaluation included"
)


@dataclass
class Sweep:
    """Everything the report is written from: every machine's rows, each tagged with
    its ``machine`` (its results folder)."""

    manifest: dict
    cells: pd.DataFrame
    table: pd.DataFrame
    summary: dict
    inference: pd.DataFrame
    hardware: pd.DataFrame
    timings: pd.DataFrame
    toy_losses: pd.DataFrame
    toy_evals: pd.DataFrame
    toy_predictions: pd.DataFrame
    post: pd.DataFrame
    plan_key: str
    # Machines the aggregation left out, and why (gather.py): folder, reason.
    left_out: pd.DataFrame | None = None

    def curves(self) -> list[Machine]:
        """Every curve's share (``series.curves``): this machine's first, then those
        of the others that were brought in (not those the aggregation left out)."""
        here = self.manifest["machine"]
        out = {Path(f).name for f in _left_out_frame(self)["folder"]}
        tags = [here] + sorted(
            t for t in self.manifest["plans"] if t != here and t not in out
        )
        found = {
            Series(c["series"]["machine"], tuple(c["series"][a] for a in AXES)): c
            for c in self.summary.get("curves", {}).values()
        }
        shown = varying(list(found))
        made = []
        for tag in tags:
            mine = sorted(s for s in found if s.machine == tag) or [Series.of(tag, {})]
            made += [
                self._curve(tag, here, s, found.get(s, EMPTY), shown) for s in mine
            ]
        return made

    def _curve(self, tag, here, series, summary, shown) -> Machine:
        timings = _rows_of(self.timings, tag, series)
        keys_ = set(timings["run_key"]) if "run_key" in timings else set()
        inference = _rows_of(self.inference, tag)
        if "run_key" in inference:
            inference = inference[inference["run_key"].isin(keys_)]
        return Machine(
            tag,
            tag == here,
            {**self.manifest["plans"][tag], "analysis": self.manifest["analysis"]},
            _rows_of(self.cells, tag, series),
            _rows_of(self.table, tag, series),
            summary,
            _rows_of(self.hardware, tag),
            inference,
            timings,
            series,
            shown,
        )

    def machines(self) -> list[list[Machine]]:
        """The curves, machine by machine (this machine first)."""
        groups: dict[str, list[Machine]] = {}
        for c in self.curves():
            groups.setdefault(c.tag, []).append(c)
        return list(groups.values())


def _rows_of(frame: pd.DataFrame, tag: str, series: Series | None = None):
    """A machine's rows of a frame (of one curve, with ``series``), its scales as
    their folders name them (2, 1.5), never as a float column's 2.0."""
    if "machine" not in frame:
        return frame.iloc[:0]
    mine = frame[frame["machine"] == tag]
    if series is not None and len(mine):
        mine = with_axes(mine)
        for axis, value in series.axes.items():
            mine = mine[mine[axis] == value]
    if "scale" not in mine:
        return mine
    scales = [canonical_scale(x) for x in mine["scale"]]
    return mine.assign(scale=pd.Series(scales, index=mine.index, dtype=object))


EMPTY = {"baseline": None, "fits": {}, "devices": {}, "overlaps": []}


@dataclass
class Machine:
    """One curve's share of the sweep (one machine's, at one value of each series
    axis), as the sections about it read it: ``manifest`` is its machine's plan,
    with the sweep's analysis settings."""

    tag: str  # its results folder
    here: bool
    manifest: dict
    cells: pd.DataFrame
    table: pd.DataFrame
    summary: dict
    hardware: pd.DataFrame
    inference: pd.DataFrame
    timings: pd.DataFrame
    series: Series | None = None  # the curve
    shown: set = dataclasses.field(default_factory=set)  # the axes that vary

    @property
    def curve(self) -> str:
        """The curve's axes in words ("batch 100, bfloat16"), where the sweep has
        several curves; "" where it has one."""
        return self.series.words(self.shown) if self.series and self.shown else ""

    @property
    def labels(self) -> dict[str, str]:
        return labels_of(self.cells) if len(self.cells) else {}

    @property
    def label(self) -> str:
        return machine_label(self.manifest["info"])


def render(sweep: Sweep) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    sweep = escaped(sweep)
    machines = sweep.machines()
    curves = [c for group in machines for c in group]
    several = len(machines) > 1
    return env.get_template("report.md.j2").render(
        head=head(sweep, curves[0]),
        summary=summary_table(curves),
        frontier=frontier_section(sweep, curves),
        machines=[machine_section(group, several) for group in machines],
        post=post(the_posts_curve(machines[0]), sweep.post),
        inference=inference(sweep, curves),
        toy=toy(sweep),
        skipped=skipped([group[0] for group in machines]),
        runs=runs(sweep),
        plan_key=sweep.plan_key,
        failed=failed_runs(sweep),
        left_out=left_out(sweep),
    )


def head(sweep: Sweep, here: Machine) -> dict:
    return {
        "architecture": ModelSizes.architecture(),
        "n_scales": len(here.manifest["scales"]),
        "n_machines": len(sweep.manifest["plans"]),
        "stand_in": not any(d in ACCELERATORS for d in here.manifest["devices"]),
        "unused": ", ".join(
            d.upper() for d in here.manifest["info"].get("accelerators", {})
        ),
        "cores": here.manifest["environment"]["usable_cores"],
    }


def machine_section(group: list[Machine], several: bool) -> dict:
    """One machine's section, its curves (one per value of each series axis) in
    turn; ``several``: the sweep has several machines."""
    m = group[0]
    labels = {k: v for c in group for k, v in c.labels.items()}
    base = m.manifest["baseline"]
    title = f"{'This machine' if m.here else 'Machine'}: {m.label}"
    return {
        "title": title,
        "folder": f"results/machines/{md_text(m.tag)}",
        "devices": ", ".join(labels.get(d, d) for d in m.manifest["devices"]),
        "baseline": labels.get(base, base),
        "warnings": list(dict.fromkeys(w for c in group for w in warnings(c))),
        "result": [
            _prefixed(line, [title] * several + [c.curve] * bool(c.curve))
            for c in group
            for line in result(c)
        ],
        "refinement": refinement(m),
        "curves": [
            {"title": c.curve, "speedup": speedup(c), "model": cost_model(c)}
            for c in group
        ],
        "environment": environment(m),
    }


def frontier_section(sweep: Sweep, curves: list[Machine]) -> dict | None:
    """The crossover as a function of the batch size, per machine, device and
    precision (``frontier.py``): a table, a sentence each, and where the frontier
    is not monotone. None where the sweep has one curve per machine."""
    if not any(c.shown for c in curves):
        return None
    found = frontier_table(sweep.summary, sweep.table)
    if found.empty:
        return None
    labels = {k: v for c in curves for k, v in c.labels.items()}
    labels.update({c.tag: c.label for c in curves})
    return {
        "intro": (
            "Each batch size and precision is a curve of its own, with its own "
            "crossover and its own refinement. The crossover is the first size "
            "from which the device is faster than the baseline, no sharper than "
            "its interval or range; the headline is the speedup at the largest "
            "size swept."
        ),
        "table": frontier_markdown(found, labels),
        "sentences": frontier_sentences(found, labels, md=True),
        "notes": monotone_notes(found, labels, md=True),
    }


def frontier_lines(sweep: Sweep, group: list[Machine]) -> list[str]:
    """One machine's frontier in a sentence per device and precision, as plain text
    (what the run prints when it ends)."""
    here = group[0].tag
    found = frontier_table(sweep.summary, sweep.table)
    found = found[found["machine"] == here] if len(found) else found
    labels = {k: v for c in group for k, v in c.labels.items()}
    labels[here] = group[0].label
    return frontier_sentences(found, labels) if len(found) else []


def _prefixed(line: str, names: list[str]) -> str:
    return f"*{', '.join(names)}.* {line}" if names else line


def the_posts_curve(group: list[Machine]) -> Machine:
    """The curve of this machine that runs the post's protocol (batch 10, float32),
    or its first where none does."""
    post_series = {a: axis.default for a, axis in AXES.items()}
    return next(
        (c for c in group if c.series and c.series.axes == post_series), group[0]
    )


def warnings(m: Machine) -> list[str]:
    out = [
        f"timed regions overlapped: {o['first']} and {o['second']} ran at the same "
        f"time for {o['seconds']:.1f} s, so their times are not clean; rerun them "
        "with nothing else running"
        for o in m.summary["overlaps"]
    ]
    # No warning compares a window's ``threads`` with the request: it is
    # torch.get_num_threads() read right after torch.set_num_threads(request), equal
    # by construction, and a BLAS that fixed its count at load is not asked. The
    # thread variables each process ran with are compared instead (below).
    out += clock_warnings(m.cells, m.labels)
    return out + _thread_variable_warnings(m) + _implausible_warnings(m)


def _thread_variable_warnings(m: Machine) -> list[str]:
    if "thread_variables_as_planned" not in m.cells:
        return []
    off = m.cells[~m.cells["thread_variables_as_planned"].fillna(True).astype(bool)]
    return [
        f"scale {r.scale}, {m.labels.get(r.device, r.device)}: its processes ran with "
        f"the thread variables {r.thread_variables}, not the {r.process_threads} "
        "planned; a BLAS that reads them when it loads ran on other threads than "
        "the report states"
        for r in off.itertuples()
    ]


def _implausible_warnings(m: Machine) -> list[str]:
    if "implausible" not in m.cells:
        return []
    margin = m.manifest["analysis"]["implausible_margin"]
    bad = m.cells[m.cells["implausible"].fillna(False).astype(bool)]
    return [
        f"**implausible**: scale {r.scale} on {m.labels.get(r.device, r.device)}, a "
        f"median step of {fmt_time(r.step_median_s)}, is more than {margin:g}× "
        f"faster than the {fmt_time(r.bound_s)} its hardware needs at least (its "
        f"{_bound_words(r)}): a synchronisation is missing or the measurement is "
        "broken; do not trust this cell"
        for r in bad.itertuples()
    ]


def _bound_words(r) -> str:
    if r.bound_by == "bandwidth":
        return f"{r.bytes_per_step / 1e6:,.1f} MB at the measured copy bandwidth"
    return f"{r.flops_per_step / 1e9:,.3f} GFLOP at the measured matmul throughput"


def summary_table(machines: list[Machine]) -> str:
    """Per machine and device: where it overtakes its baseline, and by how much (the
    speedup at the largest size, and the plateau: ``analysis.headline``)."""
    rows = []
    for m in machines:
        base = m.labels.get(m.manifest["baseline"], m.manifest["baseline"])
        for device, entry in m.summary["devices"].items():
            head = entry.get("headline") or {}
            rows.append(
                {
                    "machine": m.label,
                    **({"curve": m.curve} if m.shown else {}),
                    "device": m.labels.get(device, device),
                    "against": base,
                    "crossover": crossover_cell(entry),
                    "at the largest size": _largest(head.get("largest")),
                    "plateau": _plateau(head.get("plateau")),
                }
            )
    return markdown_table(pd.DataFrame(rows)) if rows else "Nothing to compare.\n"


def _largest(largest: dict | None) -> str:
    if not largest:
        return "n/a"
    return (
        f"{fmt_speedup(largest['speedup'], largest['ci_low'], largest['ci_high'])} at "
        f"{fmt_params(largest['params'])} (scale {largest['scale']})"
    )


def _plateau(plateau: dict | None) -> str:
    if not plateau:
        return "n/a (fewer than two sizes in the memory regime)"
    return (
        f"{fmt_speedup(plateau['speedup'], plateau['ci_low'], plateau['ci_high'])} "
        f"over scales {_scales(plateau['scales'])}"
    )


def _scales(scales: list) -> str:
    return ", ".join(map(str, scales))


def crossover_cell(entry: dict) -> str:
    """A crossover in a few words, no sharper than its intervals allow."""
    if entry["winner_throughout"]:
        return f"none: the {entry['winner_throughout']} is faster throughout"
    words = []
    for c in entry["crossings"]:
        lo, hi = fmt_params(c["low_params"]), fmt_params(c["high_params"])
        if c["kind"] == "point":
            interval = f" [{lo}–{hi}]" if finite(c["low_params"]) else ""
            words.append(f"≈ {fmt_params(c['params'])}{interval}")
        elif c["kind"] == "range":
            words.append(f"between {lo} and {hi}")
        elif c["kind"] == "open_below":
            words.append(f"at or below {hi}")
        else:
            words.append(f"above {lo}, if any")
        if c.get("then_level"):
            words[-1] += f" (except at scale {_scales(c['then_level'])})"
    return "; ".join(words) or "none clear"


def result(m: Machine) -> list[str]:
    """Each device's statement, true at every size swept: its crossings (saying so
    when there are several), the sizes beyond a crossing that are not clearly on its
    winning side, and by how much."""
    labels, base = (
        m.labels,
        m.labels.get(m.summary["baseline"], m.summary["baseline"]),
    )
    conf = f"{m.manifest['analysis']['confidence']:.0%}"
    out = []
    for device, entry in m.summary["devices"].items():
        name = labels.get(device, device)
        out += _statement(entry, name, base, conf, _params_of(entry))
        out += _by_how_much(entry, name, base)
        out += _pin_down(entry)
    return out or ["Only one device was run: there is nothing to compare."]


def _params_of(entry: dict) -> dict:
    return {z["scale"]: z["params"] for z in entry.get("sizes", [])}


def _statement(entry: dict, name: str, base: str, conf: str, params: dict) -> list:
    if entry["winner_throughout"]:
        winner = name if entry["winner_throughout"] == "device" else base
        return [
            f"**{name} against {base}: no crossover within the swept range**: "
            f"{winner} is faster at every size swept (every {conf} interval "
            "excludes 1)."
        ]
    crossings = entry["crossings"]
    if not crossings:
        level = _scales(entry["level_scales"])
        return [
            f"**{name} against {base}: no clear crossover.** The two are "
            f"indistinguishable at scales {level or 'none'} and neither overtakes "
            "the other within the swept range."
        ]
    lines = [
        _crossing_sentence(c, name, base, conf, params, last=k == len(crossings) - 1)
        for k, c in enumerate(crossings)
    ]
    if len(crossings) > 1:
        lines.insert(
            0,
            f"**The speedup of {name} over {base} crosses 1 {len(crossings)} times** "
            "within the swept range; each crossing in turn:",
        )
    return lines


def _crossing_sentence(
    c: dict, name: str, base: str, conf: str, params: dict, last: bool = True
) -> str:
    verb = "overtakes" if c["direction"] == "overtakes" else "falls behind"
    lo_s, hi_s = c["between_scales"]
    if c["kind"] == "point":
        ci = (
            f"{conf} interval "
            f"{fmt_params(c['low_params'])}–{fmt_params(c['high_params'])}"
            if finite(c["low_params"])
            else f"interval undetermined: only {c['share']:.0%} of bootstrap "
            "replicates cross between these scales"
        )
        at = fmt_params(c["params"])
        line = (
            f"**{name} {verb} {base} at about {at} parameters** (between scales "
            f"{lo_s} and {hi_s}; {ci})."
        )
    elif c["kind"] == "range":
        level = _scales(c["level_scales"])
        line = (
            f"**{name} {verb} {base} somewhere between {fmt_params(c['low_params'])} "
            f"and {fmt_params(c['high_params'])} parameters** (scales {lo_s} to "
            f"{hi_s}): at scale{'s' if len(c['level_scales']) > 1 else ''} {level} "
            f"the {conf} interval of the speedup contains 1, so no point in between "
            "can be claimed."
        )
    elif c["kind"] == "open_below":
        line = (
            f"**{name} is faster than {base} from {fmt_params(c['high_params'])} "
            f"parameters (scale {hi_s}) on**; below, the two are indistinguishable, "
            "so the crossover, if any, lies at or below that size."
        )
    else:
        return (
            f"**{name} is not clearly faster than {base} up to the largest size "
            f"swept**: from scale {c['level_scales'][0]} on the speedup's interval "
            "contains 1; the crossover, if any, lies above "
            f"{fmt_params(c['low_params'])} parameters."
        )
    return line + _after(c, name, base, params, last)


def _after(c: dict, name: str, base: str, params: dict, last: bool) -> str:
    """What holds beyond a crossing, up to the next: the winner there, and every size
    that is not clearly on its side."""
    winner = name if c["direction"] == "overtakes" else base
    until = "larger size swept" if last else "size swept up to the next crossing"
    if not c.get("then_level"):
        return f" Beyond it, {winner} is faster at every {until}."
    sizes = [
        f"{fmt_params(params[z])} (scale {z})" if z in params else f"scale {z}"
        for z in c["then_level"]
    ]
    return (
        f" Beyond it, {winner} is faster, except at {', '.join(sizes)}, where the "
        "two are indistinguishable."
    )


def _by_how_much(entry: dict, name: str, base: str) -> list:
    head = entry.get("headline")
    if not head or entry["winner_throughout"] == "baseline":
        return []
    line = f"By how much: {name} over {base} is {_largest(head['largest'])}"
    if head.get("plateau"):
        line += f"; over the sizes in the memory regime, {_plateau(head['plateau'])}"
    return [line + "."]


def _pin_down(entry: dict) -> list:
    props = entry.get("proposals") or []
    if not props:
        return []
    adds = "; ".join(
        f"scale {p['scale']} ({fmt_params(ModelSizes.for_scale(p['scale']).num_params)}"
        f" parameters), as {p['reason']}"
        for p in props
    )
    return [f"To sharpen this statement, the next sizes to measure would be: {adds}."]


def refinement(m: Machine) -> list[str]:
    """Each pass of refinement: the sizes or waves of processes it added and why, and
    why it stopped (``refine_pass.py``)."""
    passes = m.manifest.get("refinement") or []
    out = []
    for done in passes:
        for a in done["added"]:
            params = ModelSizes.for_scale(a["scale"]).num_params
            on = f" ({a['curve']})" if a.get("curve") else ""
            what = f"scale {a['scale']}{on} ({fmt_params(params)} parameters)"
            if a["wave"]:
                what = f"wave {a['wave']} of extra processes at scale {a['scale']}{on}"
            out.append(f"Pass {done['pass'] + 1} adds {what}: {a['reason']}.")
        if done["stop"]:
            out.append(f"Refinement stops after pass {done['pass']}: {done['stop']}.")
            stops = done.get("stops") or {}
            if len(set(stops.values())) > 1:
                out += [f"{curve}: stopped, {why}." for curve, why in stops.items()]
    return out


def speedup(m: Machine) -> dict:
    analysis = m.manifest["analysis"]
    notes = _separate_note(m.table, m.manifest["runs"])
    notes += _disagreeing_notes(m)
    notes += _noisy_note(m) + _switch_note(m) + clock_notes(m.cells, m.labels)
    return {
        "confidence": f"{analysis['confidence']:.0%}",
        "table": speedup_markdown(m.cells, m.table, m.manifest["baseline"])
        if len(m.cells)
        else "No runs.\n",
        "notes": notes,
        "spread_flag": f"{analysis['spread_flag']:.0%}",
    }


def _separate_note(table: pd.DataFrame, runs: list[dict]) -> list[str]:
    separate = sorted(set(table.loc[table["pairing"] != INTERLEAVED, "scale"]))
    if not separate:
        return []
    why = {r["scale"]: r.get("pairing_reason") or _MEMORY for r in runs}
    by_reason: dict[str, list] = {}
    for scale in separate:
        by_reason.setdefault(why.get(scale, _MEMORY), []).append(scale)
    return [
        f"† Scale{'s' if len(scales) > 1 else ''} {', '.join(map(str, scales))}: "
        f"{reason}, so each device was timed in processes of its own, alternating "
        "with the other devices' processes. No round is paired there: drift "
        "between neighbouring processes is not cancelled, and the interval "
        "(resampling processes, then windows) can understate it."
        for reason, scales in by_reason.items()
    ]


_MEMORY = "the models did not fit in memory together"


def _disagreeing_notes(m: Machine) -> list[str]:
    odd = m.table[m.table["disagreeing"].fillna("").astype(str) != ""]
    return [
        f"‡ Scale {r.scale}, {m.labels.get(r.device, r.device)}: a process "
        f"disagrees with the others ({r.disagreeing}; per-process speedups "
        f"{r.process_speedups.replace(';', ', ')}). It is kept: its rounds are in the "
        "estimate and in the interval, which widens accordingly."
        for r in odd.itertuples()
    ]


def _noisy_note(m: Machine) -> list[str]:
    flagged = m.cells[m.cells["flagged"]]
    if not len(flagged):
        return []
    where = ", ".join(
        f"scale {r.scale} on {m.labels.get(r.device, r.device)} ({r.iqr_rel:.0%})"
        for r in flagged.itertuples()
    )
    limit = m.manifest["analysis"]["spread_flag"]
    return [
        f"⚠ Noisy cells, whose windows' IQR exceeds {limit:.0%} of their median: "
        f"{where}. Their step times are less certain; the paired speedups cancel what "
        "the devices shared."
    ]


def _switch_note(m: Machine) -> list[str]:
    switch = m.cells.dropna(subset=["switch_ratio"])
    if not len(switch):
        return []
    worst = switch.loc[switch["switch_ratio"].idxmax()]
    out = [
        "The first step after switching device or thread count is not timed: it took "
        f"a median {switch['switch_ratio'].median():.2f}× a window's median step (up "
        f"to {worst['switch_ratio']:.2f}× at scale {worst['scale']} on "
        f"{m.labels.get(worst['device'], worst['device'])})."
    ]
    return out + _first_timed_note(m)


# Above this, the first timed step of a window was still paying for the switch.
FIRST_TIMED_LIMIT = 1.25


def _first_timed_note(m: Machine) -> list[str]:
    """Whether the untimed switch steps covered the switch: the first timed step of a
    window against the window's median, on each accelerator."""
    if "first_timed_ratio" not in m.cells:
        return []
    acc = m.cells[m.cells["device"].isin(ACCELERATORS)].dropna(
        subset=["first_timed_ratio"]
    )
    if not len(acc):
        return []
    worst = acc.loc[acc["first_timed_ratio"].idxmax()]
    line = (
        "On the accelerator, the first timed step of a window took a median "
        f"{acc['first_timed_ratio'].median():.2f}× the window's median (up to "
        f"{worst['first_timed_ratio']:.2f}× at scale {worst['scale']})"
    )
    if worst["first_timed_ratio"] > FIRST_TIMED_LIMIT:
        return [
            line + f": above {FIRST_TIMED_LIMIT}×, the switch steps did not cover the "
            "device's warm-up after the other devices' windows; raise "
            "`timing.accelerator_switch_s`."
        ]
    return [line + ": the switch steps covered the switch."]


def cost_model(m: Machine) -> dict:
    fits, labels = m.summary["fits"], m.labels
    paragraphs = [_fit_paragraph(labels.get(d, d), f) for d, f in fits.items()]
    paragraphs += _model_crossing_paragraphs(m)
    return {
        "paragraphs": paragraphs,
        "terms": _terms_table(fits, labels),
        "residuals": _residuals_table(fits, labels),
        "miss_flag": f"{m.manifest['analysis']['model_miss_flag']:.0%}",
        "hardware": _hardware_table(m.hardware, labels),
        "bandwidth": _bandwidth_table(m.cells, labels),
        "margin": f"1/{m.manifest['analysis']['implausible_margin']:g}",
    }


def _terms_table(fits: dict, labels: dict) -> str:
    def ns(x):
        return f"{x * 1e9:.3f} ns"

    rows = [
        {
            "device": labels.get(d, d),
            "overhead per step": fmt_time(f["overhead_s"]),
            "per parameter in cache": ns(f["cache_s"]) if f["knee_params"] else "—",
            "per parameter beyond": ns(
                f["memory_s"] if f["knee_params"] else f["cache_s"]
            ),
            "knee": fmt_params(f["knee_params"]) if f["knee_params"] else "none fitted",
        }
        for d, f in fits.items()
    ]
    return markdown_table(pd.DataFrame(rows)) if rows else ""


def _residuals_table(fits: dict, labels: dict) -> str:
    rows = [
        {
            "scale": z["scale"],
            "params": fmt_params(z["params"]),
            "device": labels.get(d, d),
            "regime": z["regime"],
            "residual": f"{z['residual']:+.0%}"
            + (" ✗" if z["scale"] in f["missed"] else ""),
        }
        for d, f in fits.items()
        for z in f["sizes"]
    ]
    return markdown_table(pd.DataFrame(rows)) if rows else ""


def _hardware_table(hardware: pd.DataFrame, labels: dict) -> str:
    rows = [
        {
            "device": labels.get(r.device, r.device),
            "copy bandwidth": fmt_bw(r.bandwidth_Bps),
            "matmul (fp32)": f"{r.flops / 1e9:.1f} GFLOP/s",
            "last-level cache": fmt_bytes(r.llc_bytes)
            if finite(r.llc_bytes)
            else "unknown",
        }
        for r in hardware.itertuples()
    ]
    return markdown_table(pd.DataFrame(rows)) if rows else ""


def _bandwidth_table(cells: pd.DataFrame, labels: dict) -> str:
    return markdown_table(
        pd.DataFrame(
            {
                "scale": cells["scale"],
                "params": cells["params"].map(fmt_params),
                "device": cells["device"].map(labels),
                "bytes per step": cells["bytes_per_step"].map(
                    lambda b: f"{b / 1e6:,.1f} MB"
                ),
                "achieved": cells["achieved_Bps"].map(fmt_bw),
                "of copy bandwidth": cells["bandwidth_fraction"].map(
                    lambda f: f"{f:.0%}" if finite(f) else "n/a"
                ),
                **_bound_columns(cells),
            }
        )
    )


def _bound_columns(cells: pd.DataFrame) -> dict:
    if "bound_s" not in cells:
        return {}
    return {
        "least step (bound by)": [
            f"{fmt_time(b)} ({by})" if finite(b) else "n/a"
            for b, by in zip(cells["bound_s"], cells["bound_by"])
        ],
        "median step": [
            fmt_time(t) + (" ‼" if bad else "")
            for t, bad in zip(cells["step_median_s"], cells["implausible"])
        ],
    }


def _fit_paragraph(name: str, f: dict) -> str:
    def scales_in(regime):
        return (
            ", ".join(str(z["scale"]) for z in f["sizes"] if z["regime"] == regime)
            or "none"
        )

    if f["knee_params"]:
        text = (
            f"On {name} a step costs a fixed {fmt_time(f['overhead_s'])}, plus "
            f"{f['cache_s'] * 1e9:.3f} ns per parameter while the weights and "
            f"gradients fit in the {fmt_bytes(f['llc_bytes'])} last-level cache (up "
            f"to {fmt_params(f['knee_params'])} parameters; an effective "
            f"{fmt_bw(f['cache_Bps'])}), and {f['memory_s'] * 1e9:.3f} ns per "
            f"parameter beyond (an effective {fmt_bw(f['memory_Bps'])}, from memory). "
            f"Overhead-bound scales: {scales_in('overhead')}; cache-bound: "
            f"{scales_in('cache')}; memory-bound: {scales_in('memory')}."
        )
    else:
        why = (
            "its last-level cache is unknown"
            if not f["llc_bytes"]
            else "too few sizes lie on one side of the cache's knee"
        )
        text = (
            f"On {name} a step costs a fixed {fmt_time(f['overhead_s'])} plus "
            f"{f['cache_s'] * 1e9:.3f} ns per parameter (an effective "
            f"{fmt_bw(f['cache_Bps'])}); one line is fitted because {why}. "
            f"Overhead-bound scales: {scales_in('overhead')}; per-parameter-bound: "
            f"{scales_in('per-parameter')}."
        )
    if f["missed"]:
        text += (
            f" The model misses scale{'s' if len(f['missed']) > 1 else ''} "
            f"{', '.join(map(str, f['missed']))} by more than the threshold: it does "
            "not explain those sizes."
        )
    return text


def _model_crossing_paragraphs(m: Machine) -> list[str]:
    labels, base = m.labels, m.summary["baseline"]
    out = []
    for device, entry in m.summary["devices"].items():
        found = entry.get("model_crossings") or []
        if device not in m.summary["fits"] or base not in m.summary["fits"]:
            continue
        where = (
            ", ".join(fmt_params(p) for p in found)
            if found
            else "no size within the swept range"
        )
        measured = [c for c in entry["crossings"] if c["kind"] == "point"]
        tail = (
            f"; the measured crossing is at {fmt_params(measured[0]['params'])}, "
            f"{abs(math.log2(found[0] / measured[0]['params'])):.2f} octaves away"
            if found and measured
            else ""
        )
        out.append(
            f"The cost models of {labels.get(device, device)} and "
            f"{labels.get(base, base)} predict equal step times at {where}{tail}."
        )
    return out


def post(m: Machine, published: pd.DataFrame) -> dict:
    labels = m.labels
    wide = published.pivot(
        index=["scale", "params"], columns="device", values="seconds"
    ).reset_index()
    rows = []
    for r in wide.itertuples():
        row = {
            "params": fmt_params(r.params),
            "post CPU": f"{r.cpu:.1f} s",
            "post MPS": f"{r.mps:.1f} s",
            "post speedup": f"{r.cpu / r.mps:.2f}x",
            "post per step CPU / MPS": (
                f"{fmt_time(r.cpu / POST_STEPS)} / {fmt_time(r.mps / POST_STEPS)}"
            ),
        }
        for c in m.cells[m.cells["scale"] == r.scale].itertuples():
            mark = "*" if c.total_extrapolated else ""
            row[f"ours {labels[c.device]}: step / total"] = (
                f"{fmt_time(c.step_median_s)} / {fmt_time(c.total_s)}{mark}"
            )
        for s in m.table[m.table["scale"] == r.scale].itertuples():
            row[f"our speedup {labels[s.device]}"] = f"{s.speedup:.2f}x"
        rows.append(row)
    return {
        "source": POST_SOURCE,
        "table": markdown_table(pd.DataFrame(rows).fillna("not run")),
        "sanity": post_sanity(published, m.manifest["analysis"]["implausible_margin"]),
    }


# The post's machine, an M2 Max: "400GB/s of unified memory bandwidth" (Apple
# Newsroom, "Apple unveils M2 Pro and M2 Max", 17 January 2023), shared by its CPU
# and GPU: a bound neither can beat.
POST_BANDWIDTH = 400e9
# Weights and gradients at least this large stream from memory, past the M2 Max's
# 48 MB system-level cache (the size of the CPU's default copy probe, 2 x 256 MiB).
POST_STREAMED_BYTES = 2 * 256 * 2**20


def post_sanity(published: pd.DataFrame, margin: float) -> str:
    """The report's own plausibility check, applied to the post's table: each step of
    a streamed size against the bytes it moves at the M2 Max's memory bandwidth."""
    rows = published[STATE_BYTES_PER_PARAM * published["params"] >= POST_STREAMED_BYTES]
    parts, bad = [], []
    for r in rows.sort_values(["scale", "device"]).itertuples():
        step = r.seconds / POST_STEPS
        bound = (
            ModelSizes.for_scale(canonical_scale(r.scale)).bytes_per_step()
            / POST_BANDWIDTH
        )
        parts.append(
            f"scale {r.scale} on {r.device.upper()}: {fmt_time(step)} per step, "
            f"{step / bound:.1f}× its {fmt_time(bound)} bound"
        )
        if step * margin < bound:
            bad.append(f"scale {r.scale} on {r.device.upper()}")
    verdict = (
        "implausible at " + ", ".join(bad) + "."
        if bad
        else f"none is more than {margin:g}× faster than its bound: plausible."
    )
    return (
        "Sanity check of the post's figures, as our cells are checked: the bytes a "
        "step moves at the sizes that stream from memory, over the M2 Max's published "
        f"{POST_BANDWIDTH / 1e9:.0f} GB/s (Apple), against the post's time per step "
        "(its MPS times include per-batch prints and an evaluation per epoch, which "
        f"only add time): {'; '.join(parts)}; {verdict}"
    )


def inference(sweep: Sweep, machines: list[Machine]) -> dict:
    rows = []
    several = len({m.tag for m in machines}) > 1
    for m in machines:
        for r in m.inference.itertuples():
            rows.append(
                {
                    **({"machine": m.label} if several else {}),
                    **({"curve": m.curve} if m.shown else {}),
                    "scale": r.scale,
                    "device": m.labels.get(r.device, r.device),
                    "predictions_equal": r.predictions_equal,
                    "max_abs_diff": f"{r.max_abs_diff:.1e}",
                    "accuracy": f"{r.accuracy:.3f}",
                    "infer_batch_median_s": fmt_time(r.infer_batch_median_s),
                }
            )
    if not rows:
        return {"table": "No checks.\n", "notes": []}
    notes = ["Accuracy near 0.5 is expected: the labels are random, as in the post."]
    diverged = sweep.inference[sweep.inference["nonfinite_logits"] > 0]
    if len(diverged):
        notes.append(
            f"**Diverged training:** {len(diverged)} run(s) ended with non-finite "
            f"logits (scales {', '.join(map(str, sorted(set(diverged['scale']))))}); "
            "their step times are still valid measurements, but lower `lr` to train "
            "them meaningfully."
        )
    return {"table": markdown_table(pd.DataFrame(rows)), "notes": notes}


def toy(sweep: Sweep) -> dict:
    losses = sweep.toy_losses.assign(
        loss=sweep.toy_losses["loss"].map(lambda v: f"{v:.2f}")
    )
    return {
        "table": markdown_table(losses),
        "accuracy": ", ".join(f"{a:.2f}" for a in sweep.toy_evals["accuracy"]),
        "predictions": sweep.toy_predictions["predicted"].tolist(),
        "labels": sweep.toy_predictions["label"].tolist(),
        "protocol": (
            f"seed {toy_example.SEED}, batch {toy_example.BATCH_SIZE}, `drop_last`, "
            f"{toy_example.EPOCHS} epochs, lr {toy_example.LR}"
        ),
    }


def skipped(machines: list[Machine]) -> str:
    rows = [
        {**({"machine": m.label} if len(machines) > 1 else {}), **r}
        for m in machines
        for r in m.manifest["skipped"]
    ]
    columns = ["machine"] * (len(machines) > 1) + [
        "scale",
        "device",
        "params",
        "reason",
    ]
    return markdown_table(pd.DataFrame(rows)[columns]) if rows else ""


def environment(m: Machine) -> list[str]:
    plan, labels = m.manifest, m.labels
    env = dict(plan["environment"])
    source = env.pop("cpu_threads_all_source", None)
    lines = [f"{k}: {v}" for k, v in env.items()]
    if source:
        lines.append(f"`cpu_threads: all` means {env['cpu_threads_all']}: {source}")
    for d in plan["devices"]:
        h = plan["hardware"][d]["device"]
        mine = m.cells[m.cells["device"] == d]
        lines.append(
            f"{labels.get(d, d)}: {h['hardware']}, {h['threads']} CPU "
            f"thread{'s' if h['threads'] != 1 else ''} planned, hardware tag "
            f"`{h['hardware_tag']}`{_variables_of(mine)}"
        )
    return lines


def _variables_of(cells: pd.DataFrame) -> str:
    """The thread variables a device's processes ran with, where recorded."""
    if "thread_variables" not in cells or not len(cells):
        return ""
    ran = sorted(set("; ".join(cells["thread_variables"].astype(str)).split("; ")))
    return "; its processes ran with " + " | ".join(f"`{v}`" for v in ran)


RUN_COLUMNS = [
    "machine folder",
    "scale",
    "run_key",
    "devices",
    "pairing",
    "processes",
    "wall",
]


def runs(sweep: Sweep) -> dict:
    t = sweep.timings
    if not len(t):
        return {"table": "No runs.\n", "summary": ""}
    procs = timing_processes(t)
    here = sweep.manifest["machine"]
    mine = procs[procs["machine"] == here]
    start, end = mine["started_at"].min(), mine["ended_at"].max()
    checks = sweep.inference[sweep.inference["machine"] == here]
    if len(checks):
        end = max(end, checks["ended_at"].max())

    def when(x):
        return dt.datetime.fromtimestamp(x, dt.UTC).strftime("%Y-%m-%d %H:%M")

    busy = float((mine["ended_at"] - mine["started_at"]).sum())
    return {
        "table": markdown_table(_escaped_tags(run_table(t, procs))[RUN_COLUMNS]),
        "summary": f"On this machine, the timing processes ran {busy:.0f} s in all; "
        f"the runs were measured from {when(start)} to {when(end)} UTC "
        f"({(end - start) / 60:.1f} minutes from the first timing process to the end "
        "of the last check).",
    }


def run_table(timings: pd.DataFrame, procs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its machine, scale, key, devices, pairing, processes, wall."""
    per_run = (
        procs.groupby(["machine", "scale", "run_key", "pairing"])
        .agg(
            processes=("process", "nunique"),
            ended=("ended_at", "max"),
            started=("started_at", "min"),
        )
        .reset_index()
    )
    per_run["wall"] = (per_run["ended"] - per_run["started"]).map(
        lambda s: f"{s:.1f} s"
    )
    devices = timings.groupby("run_key")["device"].agg(
        lambda d: ", ".join(sorted(set(d)))
    )
    per_run["devices"] = per_run["run_key"].map(devices)
    return per_run.rename(columns={"machine": "machine folder"})


# --- what came from other machines, failed runs, folders left out --------------------


def escaped(sweep: Sweep) -> Sweep:
    """The sweep with every text that came from a machine's files (its plan, its
    tables' text columns) escaped for markdown and HTML (``formatting.md_text``):
    a name holding ``|`` or ``<!--`` cannot break a table or hide the report's
    end. Legitimate names, keys and device names are unchanged."""
    plans = {tag: _escaped(plan) for tag, plan in sweep.manifest["plans"].items()}
    frames = {
        name: _escaped_frame(getattr(sweep, name))
        for name in ("cells", "table", "inference", "hardware", "timings")
    }
    return dataclasses.replace(
        sweep, manifest={**sweep.manifest, "plans": plans}, **frames
    )


def _escaped(obj):
    if isinstance(obj, dict):
        return {md_text(k): _escaped(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_escaped(v) for v in obj]
    return md_text(obj) if isinstance(obj, str) else obj


def _escaped_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A table's text columns escaped, but for ``machine``, which joins the tables to
    the plans (and is escaped where it is shown: ``_escaped_tags``)."""
    texts = [
        c
        for c in frame.columns
        if c != "machine"
        and not pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    return frame.assign(
        **{
            c: frame[c].map(lambda v: md_text(v) if isinstance(v, str) else v)
            for c in texts
        }
    )


def _escaped_tags(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{"machine folder": frame["machine folder"].map(md_text)})


def _left_out_frame(sweep: Sweep) -> pd.DataFrame:
    if sweep.left_out is None or not len(sweep.left_out):
        return pd.DataFrame({"folder": [], "reason": []})
    return sweep.left_out


def left_out(sweep: Sweep) -> list[str]:
    """Each folder left out, when it was read (plan.json, machine.json, its files:
    brought_in.py) or aggregated (its rows: gather.py), and why."""
    notes = list(sweep.manifest.get("left_out", []))
    notes += _left_out_frame(sweep).to_dict("records")
    return [f"{md_text(n['folder'])}: {md_text(n['reason'])}" for n in notes]


# A log line's time stamp (logs.job_logger), dropped when the report quotes it.
_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")


def failed_runs(sweep: Sweep) -> str:
    """This machine's planned runs without results (a job failed, and the report
    was written from the rest: failed_run_report.py), each with its log's last line."""
    rows = [
        {**row, "run": f"`{row['run']}`", **_md(row, "last line of its log", "log")}
        for row in failed_run_rows(sweep)
    ]
    return markdown_table(pd.DataFrame(rows)) if rows else ""


def _md(row: dict, *columns: str) -> dict:
    return {c: md_text(row[c]) for c in columns}


def failed_run_rows(sweep: Sweep) -> list[dict]:
    """Each of this machine's planned runs without results: its scale, key, the job
    that failed, its log and the log's last line (plain text)."""
    here = sweep.manifest["machine"]
    if here in {Path(f).name for f in _left_out_frame(sweep)["folder"]}:
        return []
    rows = []
    for run in sweep.manifest["plans"][here]["runs"]:
        job = _failed_job(sweep, here, run) if "key" in run else None
        if job:
            folder = keys.RUN.format(machine=here, scale=run["scale"], key=run["key"])
            log = Path(folder) / f"{job[1]}.log"
            rows.append(
                {
                    "scale": run["scale"],
                    "run": run["key"],
                    "failed": job[0],
                    "last line of its log": last_line(log),
                    "log": str(log),
                }
            )
    return rows


def _failed_job(sweep: Sweep, here: str, run: dict) -> tuple[str, str] | None:
    """Which of a run's jobs failed (its words, its log's name), or None."""

    def has(frame: pd.DataFrame) -> bool:
        if "machine" not in frame or "run_key" not in frame:
            return False
        mine = frame[(frame["machine"] == here) & (frame["run_key"] == run["key"])]
        return set(run["devices"]) <= set(mine["device"])

    if not has(sweep.timings):
        return "timing", "time"
    if not has(sweep.inference):
        return "inference check", "check"
    return None


def last_line(log: Path) -> str:
    """The last line of a job's log, without its time stamp (a failed job's says why:
    ``logs.job``)."""
    try:
        lines = [line for line in log.read_text().splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    if not lines:
        return "(empty log)"
    line = _STAMP.sub("", lines[-1])
    return line if len(line) <= 500 else line[:499] + "…"
