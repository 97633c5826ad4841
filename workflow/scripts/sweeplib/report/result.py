"""The result: the summary table (each device's crossover and by how much), each
device's statement (its crossings, what holds beyond them, by how much, which sizes
would sharpen it), and the frontier across batch sizes and precisions."""

from __future__ import annotations

import pandas as pd

from ..analyse.frontier import frontier_table, monotone_notes
from ..analyse.frontier import markdown as frontier_markdown
from ..analyse.frontier import sentences as frontier_sentences
from ..common.formatting import finite, fmt_params, fmt_speedup, markdown_table
from ..common.sizes import ModelSizes
from .sweep import Machine, Sweep


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
