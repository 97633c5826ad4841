"""The cost-model section: each device's fit in words, its terms and residuals, the
measured hardware, the bandwidth each size achieves against the least step its
hardware allows, and where the models predict the devices cross."""

from __future__ import annotations

import math

import pandas as pd

from ..common.formatting import (
    finite,
    fmt_bw,
    fmt_bytes,
    fmt_params,
    fmt_time,
    markdown_table,
)
from .sweep import Machine


def cost_model(m: Machine) -> dict:
    fits, labels = m.summary["fits"], m.labels
    paragraphs = [_fit_paragraph(labels.get(d, d), f) for d, f in fits.items()]
    paragraphs += _model_crossing_paragraphs(m)
    return {
        "paragraphs": paragraphs,
        "terms": _terms_table(fits, labels),
        "residuals": _residuals_table(fits, labels),
        "miss_flag": f"{m.manifest['analysis']['model_miss_flag']:.0%}",
        "hardware": _hardware_table(
            m.hardware, labels, m.series["precision"] if m.series else "float32"
        ),
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


def _hardware_table(hardware: pd.DataFrame, labels: dict, precision: str) -> str:
    """Each device's probe: its copy bandwidth, its matrix throughput in the curve's
    precision (``analysis.in_precision``), its last-level cache."""
    rows = [
        {
            "device": labels.get(r.device, r.device),
            "copy bandwidth": fmt_bw(r.bandwidth_Bps),
            f"matmul ({precision})": f"{r.flops / 1e9:.1f} GFLOP/s",
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
