"""The crossover frontier: where each device overtakes its baseline, as the batch
size grows, per machine and precision (no torch, no matplotlib here).

Each curve of the analysis's summary (one per machine, batch size and precision)
states its crossings as ``crossover.py`` finds them. The frontier takes, per
device, the first crossing where the device overtakes the baseline, and reads it
no more sharply than its kind allows:

- ``point``: about ``params``, within ``[low, high]`` (its bootstrap interval; the
  bracketing sizes where the interval is undetermined);
- ``range``: somewhere between ``low`` and ``high``, no point claimed;
- ``open_below``: at or below ``high`` (``params`` is that upper bound);
- ``open_above``: above ``low``, if at all (``params`` is that lower bound);
- ``none (faster throughout)``: at or below the smallest size swept (``high``);
- ``none (slower throughout)``: never within the swept sizes, so above the
  largest (``low``), if at all;
- ``none (no clear crossover)``: the device never clearly overtakes (the sizes are
  level with 1, or only some are clearly faster); ``none (falls behind)``: it is
  faster at the small sizes and falls behind at larger ones. Neither bounds the
  crossover.

More samples per step amortise the fixed per-step cost (the launch, the
synchronisation, the optimizer's pass), so the crossover should fall or stay as
the batch grows: ``monotone_notes`` says where the measured frontier does not, and
whether the intervals still allow one that does.
"""

from __future__ import annotations

import math

import pandas as pd

from ..common.formatting import finite, fmt_params, fmt_speedup, markdown_table, md_text

FASTER = "none (faster throughout)"
SLOWER = "none (slower throughout)"
UNCLEAR = "none (no clear crossover)"
BEHIND = "none (falls behind)"

# How ``low`` and ``high`` of a row read.
BOOTSTRAP, BRACKET, RANGE, UPPER, LOWER, NOTHING = (
    "bootstrap interval",
    "bracketing sizes",
    "range",
    "upper bound",
    "lower bound",
    "",
)

GROUP = ["machine", "device", "precision"]
COLUMNS = [
    "machine",
    "device",
    "baseline",
    "precision",
    "batch_size",
    "curve",
    "kind",  # the crossing's kind, or one of the "none (...)" states
    "params",  # the estimate (point) or the bound (open and none states); else NaN
    "low",  # the lowest the crossover can be (NaN: no lower bound)
    "high",  # the highest (NaN: no upper bound)
    "bounds",  # how low and high read (BOOTSTRAP, BRACKET, ...)
    "share",  # a point's share of bootstrap replicates that cross (else NaN)
    "then_level",  # scales beyond the crossing where the two are indistinguishable
    "crossings",  # how many crossings the curve has (the frontier shows one)
    "swept_min",  # the smallest and largest sizes swept (parameters)
    "swept_max",
    "largest_scale",  # the headline: the speedup at the largest size swept
    "largest_params",
    "speedup",
    "ci_low",
    "ci_high",
]


def frontier_table(summary: dict, table: pd.DataFrame) -> pd.DataFrame:
    """One row per (machine, device, precision, batch size) over the summary's
    curves: the crossover (``COLUMNS``) and the speedup at the largest size swept,
    sorted by machine, device, precision and batch size. ``table`` (the speedup
    table) gives the sizes swept and the headline where a curve's summary lacks
    them."""
    rows = []
    for curve, c in (summary.get("curves") or {}).items():
        series = c["series"]
        for device, entry in c["devices"].items():
            mine = _rows_of(table, series, device)
            rows.append(
                {
                    "machine": series["machine"],
                    "device": device,
                    "baseline": c["baseline"],
                    "precision": series["precision"],
                    "batch_size": int(series["batch_size"]),
                    "curve": curve,
                    **_crossover(entry, _swept(entry, mine)),
                    **_headline(entry, mine),
                }
            )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values(
        ["machine", "device", "precision", "batch_size"], kind="stable"
    ).reset_index(drop=True)


def _rows_of(table: pd.DataFrame, series: dict, device: str) -> pd.DataFrame:
    if table is None or not len(table):
        return pd.DataFrame(columns=["scale", "params", "speedup", "ci_low", "ci_high"])
    keep = (
        (table["machine"] == series["machine"])
        & (table["batch_size"] == series["batch_size"])
        & (table["precision"] == series["precision"])
        & (table["device"] == device)
    )
    return table[keep].sort_values("params")


def _swept(entry: dict, rows: pd.DataFrame) -> tuple[float, float]:
    params = [float(z["params"]) for z in entry.get("sizes") or []]
    params = params or [float(p) for p in rows["params"]]
    return (min(params), max(params)) if params else (math.nan, math.nan)


def _crossover(entry: dict, swept: tuple[float, float]) -> dict:
    nan = math.nan
    crossings = entry.get("crossings") or []
    out = {
        "params": nan,
        "low": nan,
        "high": nan,
        "bounds": NOTHING,
        "share": nan,
        "then_level": [],
        "crossings": len(crossings),
        "swept_min": swept[0],
        "swept_max": swept[1],
    }
    winner = entry.get("winner_throughout")
    if winner == "device":
        return (
            out
            | {"kind": FASTER, "params": swept[0], "high": swept[0]}
            | {"bounds": UPPER}
        )
    if winner == "baseline":
        return (
            out
            | {"kind": SLOWER, "params": swept[1], "low": swept[1]}
            | {"bounds": LOWER}
        )
    first = next((c for c in crossings if c["direction"] == "overtakes"), None)
    if first is None:
        return out | {"kind": BEHIND if crossings else UNCLEAR}
    low, high = float(first["low_params"]), float(first["high_params"])
    out |= {"kind": first["kind"], "then_level": list(first.get("then_level") or [])}
    if first["kind"] == "point":
        share = float(first.get("share", nan))
        if finite(low) and finite(high):
            return (
                out
                | {"params": float(first["params"]), "low": low, "high": high}
                | {
                    "bounds": BOOTSTRAP,
                    "share": share,
                }
            )
        lo, hi = (float(p) for p in first.get("bracket_params", (nan, nan)))
        return (
            out
            | {"params": float(first["params"]), "low": lo, "high": hi}
            | {
                "bounds": BRACKET,
                "share": share,
            }
        )
    if first["kind"] == "range":
        return out | {"low": low, "high": high, "bounds": RANGE}
    if first["kind"] == "open_below":
        return out | {"params": high, "high": high, "bounds": UPPER}
    return out | {"params": low, "low": low, "bounds": LOWER}  # open_above


def _headline(entry: dict, rows: pd.DataFrame) -> dict:
    largest = (entry.get("headline") or {}).get("largest")
    if not largest and len(rows):
        last = rows.iloc[-1]
        largest = {k: last[k] for k in ("scale", "params", "speedup", "ci_low")} | {
            "ci_high": last["ci_high"]
        }
    if not largest:
        return dict.fromkeys(
            ["largest_scale", "largest_params", "speedup", "ci_low", "ci_high"],
            math.nan,
        )
    return {
        "largest_scale": largest["scale"],
        "largest_params": float(largest["params"]),
        "speedup": float(largest["speedup"]),
        "ci_low": float(largest["ci_low"]),
        "ci_high": float(largest["ci_high"]),
    }


# --- reading a row ------------------------------------------------------------------


def interval(row) -> tuple[float, float]:
    """The crossover's bounds as numbers: 0 where nothing bounds it below, infinity
    where nothing bounds it above."""
    low = row["low"] if finite(row["low"]) else 0.0
    high = row["high"] if finite(row["high"]) else math.inf
    return float(low), float(high)


def value(row) -> float:
    """The value the frontier is drawn and compared at: the estimate, the bound, or
    a range's geometric middle; NaN where nothing bounds the crossover."""
    if row["kind"] == "range":
        return math.sqrt(row["low"] * row["high"])
    return float(row["params"]) if finite(row["params"]) else math.nan


def rises_from(a, b) -> bool:
    """Whether the measured crossover rises from row ``a`` to row ``b``: the
    estimates where both are points; else ``b``'s lowest possible crossover above
    ``a``'s and its highest no lower, where the highest is known for either, so
    that a bound that merely moves (an upper bound that rises with nothing below
    either, a lower bound that rises with nothing above either, a range that
    widens) is no rise."""
    if a["kind"] == b["kind"] == "point":
        return _above(b["params"], a["params"])
    (lo_a, hi_a), (lo_b, hi_b) = interval(a), interval(b)
    if math.isinf(hi_a) and math.isinf(hi_b):
        return False
    return _above(lo_b, lo_a) and (_above(hi_b, hi_a) or hi_b == hi_a)


def _among(pair, pairs) -> bool:
    return any(pair[0] is a and pair[1] is b for a, b in pairs)


def _above(x: float, y: float) -> bool:
    return x > y * (1 + 1e-9) if math.isfinite(y) else False


def approx(p: float) -> str:
    """A parameter count to three significant figures: 3.12M, 410k, 90.9k."""
    if not finite(p):
        return "n/a"
    p = float(f"{p:.3g}")
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(p) >= div:
            return f"{p / div:g}{unit}"
    return f"{p:g}"


def words(row, unit: str = "") -> str:
    """Where the device overtakes, in a few words no sharper than the row's kind:
    "at about 3.1M [2.9M–3.3M]", "somewhere between A and B", "at or below B",
    "above A, if at all", "never within the swept sizes". ``unit`` follows the
    first number."""
    kind, low, high = row["kind"], row["low"], row["high"]
    if kind == "point":
        if row["bounds"] == BOOTSTRAP:
            text = (
                f"at about {approx(row['params'])}{unit} [{approx(low)}–{approx(high)}]"
            )
        else:
            text = (
                f"at about {approx(row['params'])}{unit} (between the sizes "
                f"{fmt_params(low)} and {fmt_params(high)}; its interval undetermined)"
            )
    elif kind == "range":
        text = f"somewhere between {fmt_params(low)} and {fmt_params(high)}{unit}"
    elif kind == "open_below":
        text = f"at or below {fmt_params(high)}{unit}"
    elif kind == "open_above":
        text = f"above {fmt_params(low)}{unit}, if at all"
    elif kind == FASTER:
        text = f"at or below {fmt_params(high)}{unit} (faster at every size swept)"
    elif kind == SLOWER:
        text = (
            f"never within the swept sizes (slower at every size up to "
            f"{fmt_params(low)}{unit})"
        )
    elif kind == BEHIND:
        text = (
            "never within the swept sizes (it is faster at the smaller sizes and "
            "falls behind at larger ones)"
        )
    else:
        text = "never clearly within the swept sizes (no clear crossover)"
    if row["then_level"]:
        scales = ", ".join(map(str, row["then_level"]))
        text += f" (but indistinguishable at scale {scales})"
    if row["crossings"] > 1 and not kind.startswith("none"):
        text += f" (the first of {row['crossings']} crossings)"
    return text


def _label(labels: dict | None, key: str, md: bool = False) -> str:
    text = (labels or {}).get(key, key)
    return md_text(text) if md else str(text)


def _groups(frontier: pd.DataFrame):
    for key, g in frontier.groupby(GROUP, sort=True):
        yield key, g.sort_values("batch_size")


def _series(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- what the frontier says -----------------------------------------------------------


def monotone_notes(
    frontier: pd.DataFrame, labels: dict | None = None, md: bool = False
) -> list[str]:
    """Per (machine, device, precision) with two batch sizes or more: whether the
    crossover falls or stays as the batch grows, as the fixed per-step cost amortised
    over more samples predicts. Each rise is named, as within the intervals (they
    overlap: a monotone frontier is not excluded) or excluded by them; and where no
    monotone frontier fits the intervals of every pair of batch sizes, it says so: a
    real violation. ``md``: names escaped for markdown."""
    notes = []
    for (machine, device, precision), g in _groups(frontier):
        if len(g) < 2:
            continue
        base = _label(labels, g["baseline"].iloc[0], md)
        head = (
            f"On {_label(labels, machine, md)}, {_label(labels, device, md)} against "
            f"{base} ({precision})"
        )
        rows = [r for _, r in g.iterrows()]
        known = [r for r in rows if finite(value(r))]
        blind = [r for r in rows if not finite(value(r))]
        aside = (
            f" Batch {_series([str(r['batch_size']) for r in blind])} "
            + (
                "gives no bound on the crossover and constrains nothing."
                if len(blind) == 1
                else "give no bound on the crossover and constrain nothing."
            )
            if blind
            else ""
        )
        if len(known) < 2:
            notes.append(
                f"{head}: too few batch sizes with a crossover to judge how it moves "
                f"with the batch.{aside}"
            )
            continue
        # no monotone frontier fits where a later batch's lowest crossover is above
        # an earlier one's highest, neighbours or not
        violations = [
            (a, b)
            for i, a in enumerate(rows)
            for b in rows[i + 1 :]
            if interval(b)[0] > interval(a)[1]
        ]
        steps = [(a, b) for a, b in zip(known, known[1:]) if rises_from(a, b)]
        rises = sorted(
            steps + [v for v in violations if not _among(v, steps)],
            key=lambda ab: (ab[0]["batch_size"], ab[1]["batch_size"]),
        )
        trail = " → ".join(f"batch {r['batch_size']}: {words(r)}" for r in known)
        if not rises:
            loose = [
                f"batch {a['batch_size']} to {b['batch_size']}"
                for a, b in zip(known, known[1:])
                if not rises_from(b, a)
                and not (
                    a["kind"] == b["kind"] == "point" and b["params"] == a["params"]
                )
            ]
            unresolved = (
                f" The step{'s' if len(loose) > 1 else ''} from {_series(loose)} "
                f"{'are' if len(loose) > 1 else 'is'} not resolved: one's bounds hold "
                "the other's."
                if loose
                else ""
            )
            notes.append(
                f"{head}: the measured crossover never rises as the batch grows "
                f"({trail}): consistent with a monotone frontier, as the fixed "
                "per-step cost amortised over more samples predicts."
                f"{unresolved}{aside}"
            )
            continue
        clauses = []
        for a, b in rises:
            excluded = interval(b)[0] > interval(a)[1]
            clauses.append(
                f"from batch {a['batch_size']} ({words(a)}) to batch "
                f"{b['batch_size']} ({words(b)}) it rises, "
                + (
                    "which the intervals exclude"
                    if excluded
                    else "within the intervals (they overlap)"
                )
            )
        if violations:
            pairs = "; ".join(
                f"at batch {b['batch_size']} the crossover is above "
                f"{fmt_params(interval(b)[0])}, at batch {a['batch_size']} at most "
                f"{fmt_params(interval(a)[1])}"
                for a, b in violations
            )
            verdict = (
                "No monotone frontier fits the intervals: a real violation of the "
                f"expected fall with the batch ({pairs})."
            )
        else:
            verdict = (
                "The intervals still allow a monotone frontier: "
                + ("the rise is" if len(rises) == 1 else "each rise is")
                + " within the intervals, not a violation."
            )
        notes.append(
            f"{head}: the measured crossover is not monotone in the batch size: "
            f"{'; '.join(clauses)}. {verdict}{aside}"
        )
    return notes


def sentences(frontier: pd.DataFrame, labels: dict, md: bool = False) -> list[str]:
    """One sentence per (machine, device, precision): where the device overtakes its
    baseline at each batch size, in ascending batch order, in the words of each
    crossing's kind (``words``): "On M, D overtakes B (float32): at batch 10 at
    about 3.1M parameters [2.9M–3.3M]; at batch 100 at about 410k [380k–440k]; at
    batch 1000 at or below 90,902." ``md``: names escaped for markdown."""
    out = []
    for (machine, device, precision), g in _groups(frontier):
        base = _label(labels, g["baseline"].iloc[0], md)
        clauses = [
            f"at batch {r['batch_size']} {words(r, ' parameters' if k == 0 else '')}"
            for k, (_, r) in enumerate(g.iterrows())
        ]
        out.append(
            f"On {_label(labels, machine, md)}, {_label(labels, device, md)} overtakes "
            f"{base} ({precision}): {'; '.join(clauses)}."
        )
    return out


def cell(row) -> str:
    """A crossover in a table cell, in the report's words (``crossover_cell``)."""
    kind, low, high = row["kind"], row["low"], row["high"]
    if kind == "point":
        text = f"≈ {fmt_params(row['params'])}" + (
            f" [{fmt_params(low)}–{fmt_params(high)}]"
            if row["bounds"] == BOOTSTRAP
            else f" (interval undetermined; between {fmt_params(low)} and "
            f"{fmt_params(high)})"
        )
    elif kind == "range":
        text = f"between {fmt_params(low)} and {fmt_params(high)}"
    elif kind == "open_below":
        text = f"at or below {fmt_params(high)}"
    elif kind == "open_above":
        text = f"above {fmt_params(low)}, if at all"
    elif kind == FASTER:
        text = f"none: faster throughout (from {fmt_params(high)}, the smallest)"
    elif kind == SLOWER:
        text = f"none: slower throughout (up to {fmt_params(low)}, the largest)"
    elif kind == BEHIND:
        text = "none: falls behind at larger sizes"
    else:
        text = "none clear"
    if row["then_level"]:
        text += f" (except at scale {', '.join(map(str, row['then_level']))})"
    return text


def speedup_cell(row) -> str:
    if not finite(row["speedup"]):
        return "n/a"
    return (
        f"{fmt_speedup(row['speedup'], row['ci_low'], row['ci_high'])} at "
        f"{fmt_params(row['largest_params'])}"
    )


def markdown(frontier: pd.DataFrame, labels: dict) -> str:
    """Per machine, a table with a row per batch size: the crossover and the speedup
    at the largest size swept, one column pair per device and precision when there
    are several (the heading names them when there is one). Names from elsewhere
    are escaped."""
    if not len(frontier):
        return "Nothing to compare.\n"
    parts = []
    for machine, m in frontier.groupby("machine", sort=True):
        pairs = list(m.groupby(["device", "precision"], sort=True).groups)
        bases = sorted(set(m["baseline"]))
        against = ", ".join(_label(labels, b, True) for b in bases)
        name = _label(labels, machine, True)
        if len(pairs) == 1:
            (device, precision) = pairs[0]
            head = (
                f"**{name}**: {_label(labels, device, True)} against {against} "
                f"({md_text(precision)})"
            )
        else:
            head = f"**{name}**, against {against}"
        rows = []
        for batch, b in m.groupby("batch_size", sort=True):
            row = {"batch size": str(batch)}
            for device, precision in pairs:
                hit = b[(b["device"] == device) & (b["precision"] == precision)]
                prefix = (
                    ""
                    if len(pairs) == 1
                    else f"{_label(labels, device, True)}, {md_text(precision)}: "
                )
                r = hit.iloc[0] if len(hit) else None
                row[f"{prefix}crossover"] = cell(r) if r is not None else "not run"
                row[f"{prefix}speedup at the largest size"] = (
                    speedup_cell(r) if r is not None else "not run"
                )
            rows.append(row)
        parts.append(f"{head}\n\n{markdown_table(pd.DataFrame(rows))}")
    return "\n".join(parts)
