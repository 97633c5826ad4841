"""The crossover frontier across batch sizes: its table, whether it falls with the
batch as the amortised per-step cost predicts, its sentences, its markdown table
and its two figures, on hand-made summaries of the analysis's shape."""

import dataclasses
import io
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from sweeplib.analyse import crossover as cx
from sweeplib.analyse import frontier as fr
from sweeplib.common.sizes import params_of_scale
from sweeplib.report.frontier_plots import (
    frontier_figure,
    frontier_plot,
    speedup_map,
    speedup_map_figure,
)

SCALES = [1, 2, 4, 8, 16, 32]
PARAMS = [float(params_of_scale(s)) for s in SCALES]  # 90,902 ... 92,188,802
MACHINE = "intel-xeon-2c-cpu-4fcf"
HOSTILE = "Xeon | $\\frac{1$ box"
LABELS = {
    MACHINE: "Intel Xeon (2 cores)",
    "cpu": "CPU, 2 threads",
    "cpu1": "CPU, 1 thread",
    "cuda": "CUDA",
}


# --- hand-made crossings, entries, summaries and tables -------------------------------


def crossing(kind, low, high, params=math.nan, direction="overtakes", **more):
    return {
        "kind": kind,
        "direction": direction,
        "params": params,
        "low_params": low,
        "high_params": high,
        "share": 0.97 if kind == "point" else math.nan,
        "level_scales": [],
        "between_scales": [1, 2],
        "bracket_params": [math.nan, math.nan],
        "then_level": [],
        **more,
    }


def point(p, low, high, **more):
    return crossing("point", low, high, params=p, **more)


def span(low, high):
    return crossing("range", low, high)


def open_below(high):
    return crossing("open_below", PARAMS[0], high)


def open_above(low):
    return crossing("open_above", low, PARAMS[-1])


def entry(crossings=(), winner=None, largest=(2.0, 1.8, 2.2)):
    speedup, low, high = largest
    return {
        "winner_throughout": winner,
        "crossings": list(crossings),
        "sizes": [
            {"scale": s, "params": p, "class": "above"} for s, p in zip(SCALES, PARAMS)
        ],
        "headline": {
            "largest": {
                "scale": SCALES[-1],
                "params": PARAMS[-1],
                "speedup": speedup,
                "ci_low": low,
                "ci_high": high,
            },
            "plateau": None,
        },
    }


def summary(curves, machine=MACHINE, baseline="cpu1"):
    """``curves``: {(batch, precision): {device: entry}}."""
    return {
        "curves": {
            f"{machine}-b{batch}-{precision}": {
                "series": {
                    "machine": machine,
                    "batch_size": batch,
                    "precision": precision,
                },
                "baseline": baseline,
                "devices": devices,
            }
            for (batch, precision), devices in curves.items()
        }
    }


def table_of(summ, crossover=None):
    """A speedup table of the summary's curves: a speedup that meets 1 at each
    curve's crossover (``crossover``: {(batch, precision, device): params}), with a
    10% interval."""
    rows = []
    for c in summ["curves"].values():
        s = c["series"]
        for device in c["devices"]:
            at = (crossover or {}).get((s["batch_size"], s["precision"], device), 1e6)
            for scale, p in zip(SCALES, PARAMS):
                v = (p / at) ** 0.3
                rows.append(
                    {
                        **s,
                        "scale": scale,
                        "params": p,
                        "device": device,
                        "speedup": v,
                        "ci_low": v * 0.9,
                        "ci_high": v * 1.1,
                    }
                )
    return pd.DataFrame(rows)


def falling():
    """The frontier physics expects: it falls as the batch grows."""
    return summary(
        {
            (1000, "float32"): {"cpu": entry([open_below(PARAMS[0])])},
            (10, "float32"): {"cpu": entry([point(3.1e6, 2.9e6, 3.3e6)])},
            (100, "float32"): {
                "cpu": entry([point(4.1e5, 3.8e5, 4.4e5)], largest=(1.6, 1.5, 1.7))
            },
        }
    )


def frontier_of(summ):
    return fr.frontier_table(summ, table_of(summ))


# --- the table ------------------------------------------------------------------------


def test_the_table_has_one_row_per_series_sorted_with_each_kinds_values():
    f = frontier_of(falling())
    assert list(f.columns) == fr.COLUMNS
    assert list(f["batch_size"]) == [10, 100, 1000]  # sorted, whatever the order
    assert list(f["kind"]) == ["point", "point", "open_below"]
    ten, hundred, thousand = (r for _, r in f.iterrows())
    assert (ten["params"], ten["low"], ten["high"]) == (3.1e6, 2.9e6, 3.3e6)
    assert ten["bounds"] == fr.BOOTSTRAP and ten["baseline"] == "cpu1"
    # open below: the crossover is at or below the first faster size, no lower bound
    assert thousand["params"] == thousand["high"] == PARAMS[0]
    assert math.isnan(thousand["low"]) and thousand["bounds"] == fr.UPPER
    # the headline: the speedup at the largest size, with its interval
    assert (hundred["speedup"], hundred["ci_low"], hundred["ci_high"]) == (
        1.6,
        1.5,
        1.7,
    )
    assert hundred["largest_params"] == PARAMS[-1] and hundred["largest_scale"] == 32
    assert (ten["swept_min"], ten["swept_max"]) == (PARAMS[0], PARAMS[-1])


def test_rows_sort_by_machine_device_precision_then_batch():
    summ = summary(
        {
            (100, "float32"): {"cuda": entry([open_below(PARAMS[1])]), "cpu": entry()},
            (10, "bfloat16"): {"cuda": entry([open_below(PARAMS[2])]), "cpu": entry()},
            (10, "float32"): {"cuda": entry([open_below(PARAMS[3])]), "cpu": entry()},
        }
    )
    f = frontier_of(summ)
    assert list(zip(f["device"], f["precision"], f["batch_size"])) == [
        ("cpu", "bfloat16", 10),
        ("cpu", "float32", 10),
        ("cpu", "float32", 100),
        ("cuda", "bfloat16", 10),
        ("cuda", "float32", 10),
        ("cuda", "float32", 100),
    ]


def test_the_first_overtaking_crossing_is_the_frontier():
    # falls behind at small sizes, then overtakes: the overtaking is the crossover
    summ = summary(
        {
            (10, "float32"): {
                "cpu": entry(
                    [
                        point(2e5, 1.8e5, 2.2e5, direction="falls_behind"),
                        span(PARAMS[2], PARAMS[4]),
                    ]
                )
            }
        }
    )
    (r,) = (r for _, r in frontier_of(summ).iterrows())
    assert r["kind"] == "range" and (r["low"], r["high"]) == (PARAMS[2], PARAMS[4])
    assert math.isnan(r["params"]) and r["crossings"] == 2
    assert "the first of 2 crossings" in fr.words(r)


def test_a_point_whose_interval_is_undetermined_reads_between_its_sizes():
    c = point(5e5, math.nan, math.nan, bracket_params=[PARAMS[1], PARAMS[2]])
    summ = summary({(10, "float32"): {"cpu": entry([c])}})
    (r,) = (r for _, r in frontier_of(summ).iterrows())
    assert (r["low"], r["high"], r["bounds"]) == (PARAMS[1], PARAMS[2], fr.BRACKET)
    assert "interval undetermined" in fr.words(r)
    assert "361,802" in fr.words(r) and "[" not in fr.words(r)


def test_crossings_as_crossover_gives_them_read_back():
    # A curve through crossover.crossings, turned into dicts the way the analysis
    # writes them: level at the two smallest sizes, faster from scale 4 on.
    speedup = np.array([0.98, 1.02, 1.5, 2.0, 2.5, 3.0])
    found = cx.crossings(
        SCALES,
        PARAMS,
        speedup,
        speedup * 0.9,
        speedup * 1.1,
        np.tile(speedup, (50, 1)),
        0.95,
    )
    summ = summary(
        {(10, "float32"): {"cpu": entry([dataclasses.asdict(c) for c in found])}}
    )
    (r,) = (r for _, r in frontier_of(summ).iterrows())
    assert r["kind"] == "open_below" and r["high"] == PARAMS[2]


def test_the_table_stands_in_for_a_summary_without_sizes_or_headline():
    e = entry([open_below(PARAMS[1])])
    del e["sizes"], e["headline"]
    summ = summary({(10, "float32"): {"cpu": e}})
    table = table_of(summ, {(10, "float32", "cpu"): 1e5})
    (r,) = (r for _, r in fr.frontier_table(summ, table).iterrows())
    assert (r["swept_min"], r["swept_max"]) == (PARAMS[0], PARAMS[-1])
    assert r["speedup"] == pytest.approx((PARAMS[-1] / 1e5) ** 0.3)
    assert r["ci_low"] == pytest.approx(0.9 * r["speedup"])


# --- monotone or not ------------------------------------------------------------------


def notes_of(curves):
    return fr.monotone_notes(frontier_of(summary(curves)), LABELS)


def test_a_frontier_that_falls_with_the_batch_is_called_monotone():
    (note,) = fr.monotone_notes(frontier_of(falling()), LABELS)
    assert "never rises as the batch grows" in note
    assert "consistent with a monotone frontier" in note and "not resolved" not in note
    assert "not monotone" not in note and "violation" not in note
    assert (
        note.index("batch 10:") < note.index("batch 100:") < note.index("batch 1000:")
    )


def test_a_rise_the_intervals_exclude_is_a_real_violation():
    (note,) = notes_of(
        {
            (10, "float32"): {"cpu": entry([point(4e5, 3.8e5, 4.2e5)])},
            (100, "float32"): {"cpu": entry([point(2e6, 1.8e6, 2.2e6)])},
        }
    )
    assert "not monotone" in note and "which the intervals exclude" in note
    assert "real violation" in note
    assert (
        "at batch 100 the crossover is above 1,800,000, at batch 10 at most 420,000"
        in note
    )
    assert "still allow" not in note


def test_a_rise_within_overlapping_intervals_still_allows_a_monotone_frontier():
    (note,) = notes_of(
        {
            (10, "float32"): {"cpu": entry([point(4e5, 3e5, 6e5)])},
            (100, "float32"): {"cpu": entry([point(5e5, 3.5e5, 7e5)])},
        }
    )
    assert "not monotone" in note and "within the intervals (they overlap)" in note
    assert "still allow a monotone frontier" in note and "violation of" not in note


def test_a_pair_of_batches_apart_can_exclude_what_each_step_allows():
    # each step is within the intervals, but batch 1000's crossover is above batch
    # 10's: no monotone frontier fits
    (note,) = notes_of(
        {
            (10, "float32"): {"cpu": entry([point(1e6, 0.9e6, 1.1e6)])},
            (100, "float32"): {"cpu": entry([span(5e5, 1e7)])},
            (1000, "float32"): {"cpu": entry([point(3e6, 2.8e6, 3.2e6)])},
        }
    )
    # neither step rises (the range holds both points), but batch 1000 sits above 10
    assert "within the intervals" not in note
    assert "from batch 10 (at about 1M [900k–1.1M]) to batch 1000" in note
    assert "which the intervals exclude" in note and "real violation" in note
    assert "at batch 1000 the crossover is above 2,800,000, at batch 10 at most" in note


def test_open_bounds_rise_within_or_against_the_intervals():
    # an upper bound that rises is no rise: both crossovers may lie anywhere below
    # their bounds, so the step is not resolved
    (loose,) = notes_of(
        {
            (10, "float32"): {"cpu": entry([open_below(PARAMS[1])])},
            (100, "float32"): {"cpu": entry([open_below(PARAMS[3])])},
        }
    )
    assert "never rises" in loose and "not monotone" not in loose
    assert "from batch 10 to 100 is not resolved" in loose
    # a lower bound that rises, with nothing above either (slower up to the largest
    # size at both batches): no rise either
    (lower,) = notes_of(
        {
            (10, "float32"): {"cpu": entry([open_above(PARAMS[2])])},
            (100, "float32"): {"cpu": entry([open_above(PARAMS[3])])},
        }
    )
    assert "never rises" in lower and "not monotone" not in lower
    # a lower bound that rises past a range: a rise the intervals allow
    (within,) = notes_of(
        {
            (10, "float32"): {"cpu": entry([span(PARAMS[1], PARAMS[3])])},
            (100, "float32"): {"cpu": entry([open_above(PARAMS[2])])},
        }
    )
    assert "within the intervals" in within and "still allow" in within
    # faster from 361,802 on at batch 10, not clearly faster up to 5.8M at batch 100
    (against,) = notes_of(
        {
            (10, "float32"): {"cpu": entry([open_below(PARAMS[1])])},
            (100, "float32"): {"cpu": entry([open_above(PARAMS[3])])},
        }
    )
    assert "which the intervals exclude" in against and "real violation" in against


def test_none_states_bound_the_frontier_at_the_swept_ends():
    # slower throughout at batch 10, faster throughout at 100: a fall
    (falls,) = notes_of(
        {
            (10, "float32"): {"cpu": entry(winner="baseline")},
            (100, "float32"): {"cpu": entry(winner="device")},
        }
    )
    assert "consistent with a monotone frontier" in falls
    (rises,) = notes_of(
        {
            (10, "float32"): {"cpu": entry(winner="device")},
            (100, "float32"): {"cpu": entry(winner="baseline")},
        }
    )
    assert "real violation" in rises


def test_a_batch_without_a_bound_constrains_nothing():
    notes = notes_of(
        {
            (10, "float32"): {"cpu": entry([point(4e5, 3.8e5, 4.2e5)])},
            (100, "float32"): {"cpu": entry()},  # level throughout: no crossing
            (1000, "float32"): {"cpu": entry([point(2e5, 1.8e5, 2.2e5)])},
        }
    )
    (note,) = notes
    assert "consistent with a monotone frontier" in note
    assert "Batch 100 gives no bound on the crossover and constrains nothing." in note


def test_a_step_whose_bounds_hold_the_other_is_not_resolved():
    (note,) = notes_of(
        {
            (10, "float32"): {"cpu": entry([span(PARAMS[0], PARAMS[4])])},
            (100, "float32"): {"cpu": entry([point(2e6, 1.8e6, 2.2e6)])},
        }
    )
    assert "consistent with a monotone frontier" in note
    assert "The step from batch 10 to 100 is not resolved" in note


def test_one_batch_size_gives_no_note():
    assert notes_of({(10, "float32"): {"cpu": entry([point(4e5, 3e5, 5e5)])}}) == []


# --- sentences ------------------------------------------------------------------------


def test_the_sentence_lists_each_batch_in_order_in_its_kinds_words():
    (s,) = fr.sentences(frontier_of(falling()), LABELS)
    assert s == (
        "On Intel Xeon (2 cores), CPU, 2 threads overtakes CPU, 1 thread (float32): "
        "at batch 10 at about 3.1M parameters [2.9M–3.3M]; at batch 100 at about 410k "
        "[380k–440k]; at batch 1000 at or below 90,902."
    )


def test_sentences_never_sharper_than_the_kind():
    summ = summary(
        {
            (1, "float32"): {"cpu": entry([open_above(PARAMS[3])])},
            (2, "float32"): {"cpu": entry([span(PARAMS[1], PARAMS[3])])},
            (4, "float32"): {"cpu": entry(winner="baseline")},
            (8, "float32"): {"cpu": entry(winner="device")},
            (16, "float32"): {"cpu": entry()},
            (32, "float32"): {
                "cpu": entry([crossing("point", 1, 2, 3, direction="falls_behind")])
            },
        }
    )
    (s,) = fr.sentences(frontier_of(summ), LABELS)
    assert s.split(": ", 1)[1].split("; ") == [
        "at batch 1 above 5,767,202 parameters, if at all",
        "at batch 2 somewhere between 361,802 and 5,767,202",
        "at batch 4 never within the swept sizes (slower at every size up to "
        "92,188,802)",
        "at batch 8 at or below 90,902 (faster at every size swept)",
        "at batch 16 never clearly within the swept sizes (no clear crossover)",
        "at batch 32 never within the swept sizes (it is faster at the smaller sizes "
        "and falls behind at larger ones).",
    ]
    assert "about" not in s  # no point claimed anywhere


def test_exceptions_beyond_the_crossover_are_named():
    c = point(4e5, 3.8e5, 4.2e5, then_level=[16])
    summ = summary({(10, "float32"): {"cpu": entry([c])}})
    (s,) = fr.sentences(frontier_of(summ), LABELS)
    assert s.endswith(
        "at batch 10 at about 400k parameters [380k–420k] (but "
        "indistinguishable at scale 16)."
    )


def test_one_sentence_per_machine_device_and_precision():
    summ = summary(
        {
            (10, "float32"): {"cpu": entry([open_below(PARAMS[1])])},
            (10, "bfloat16"): {"cpu": entry([open_below(PARAMS[2])])},
        }
    )
    out = fr.sentences(frontier_of(summ), LABELS)
    assert out[0].endswith("(bfloat16): at batch 10 at or below 1,443,602 parameters.")
    assert out[1].endswith("(float32): at batch 10 at or below 361,802 parameters.")


# --- markdown -------------------------------------------------------------------------


def test_markdown_has_a_row_per_batch_and_the_columns_in_the_reports_words():
    text = fr.markdown(frontier_of(falling()), LABELS)
    lines = text.splitlines()
    assert lines[0] == (
        "**Intel Xeon (2 cores)**: CPU, 2 threads against CPU, 1 thread (float32)"
    )
    assert lines[2] == "| batch size | crossover | speedup at the largest size |"
    assert lines[4] == (
        "| 10 | ≈ 3,100,000 [2,900,000–3,300,000] | 2.00x [1.80, 2.20] at 92,188,802 |"
    )
    assert lines[5].startswith("| 100 | ≈ 410,000 [380,000–440,000] | 1.60x")
    assert lines[6].startswith("| 1000 | at or below 90,902 |")


def test_markdown_pairs_columns_per_device_and_precision_and_escapes_names():
    summ = summary(
        {
            (10, "float32"): {
                "cpu": entry([open_below(PARAMS[1])]),
                "cuda": entry(winner="device"),
            },
            (10, "bfloat16"): {"cuda": entry([open_above(PARAMS[2])])},
            (100, "float32"): {"cpu": entry(winner="baseline")},
        }
    )
    text = fr.markdown(frontier_of(summ), LABELS | {MACHINE: HOSTILE})
    head, _, header, _, ten, hundred = text.splitlines()
    assert head == "**Xeon \\| \\$\\\\frac{1\\$ box**, against CPU, 1 thread"
    assert header.split(" | ")[1:4] == [
        "CPU, 2 threads, float32: crossover",
        "CPU, 2 threads, float32: speedup at the largest size",
        "CUDA, bfloat16: crossover",
    ]
    assert "none: faster throughout (from 90,902, the smallest)" in ten
    assert "above 1,443,602, if at all" in ten
    assert "none: slower throughout (up to 92,188,802, the largest)" in hundred
    assert "not run" in hundred


# --- the figures ----------------------------------------------------------------------


def two_machines():
    """Two machines, two devices, two precisions, a hostile name, and every kind."""
    here = falling()
    here["curves"].update(
        summary(
            {
                (10, "bfloat16"): {"cpu": entry([span(PARAMS[1], PARAMS[3])])},
                (100, "bfloat16"): {"cpu": entry([open_above(PARAMS[2])])},
                (1000, "bfloat16"): {"cpu": entry()},
            }
        )["curves"]
    )
    there = summary(
        {
            (10, "float32"): {"cuda": entry(winner="baseline")},
            (100, "float32"): {"cuda": entry([point(1e6, 8e5, 1.3e6)])},
            (1000, "float32"): {"cuda": entry(winner="device")},
        },
        machine="there",
        baseline="cpu",
    )
    here["curves"].update(there["curves"])
    return here


def ticks_read_as_numbers(fig, axis):
    """Log ticks are drawn as 10⁵, not as the source "$\\mathdefault{10^{5}}$"."""
    canvas = FigureCanvasAgg(fig)  # a closed figure keeps no canvas of its own
    fig.savefig(io.BytesIO(), format="png", dpi=120)
    renderer = canvas.get_renderer()
    ticks = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
    assert [t for t in ticks if "10^{" in t.get_text()], "no 10^n tick"
    for tick in ticks:
        em = tick.get_fontsize() * fig.dpi / 72
        width = tick.get_window_extent(renderer).width
        assert width < 4 * em, tick.get_text()


@pytest.fixture
def drawn(tmp_path):
    summ = two_machines()
    table = table_of(
        summ,
        {(10, "float32", "cpu"): 3.1e6, (100, "float32", "cpu"): 4.1e5},
    )
    frontier = fr.frontier_table(summ, table)
    labels = LABELS | {"there": HOSTILE}
    return {
        "frontier": (frontier_plot(frontier, labels, tmp_path / "f.png"), tmp_path),
        "map": (
            speedup_map(table, frontier, labels, tmp_path / "m.png"),
            tmp_path,
        ),
    }


def test_the_frontier_plot_draws_every_kind_readably(drawn):
    fig, tmp = drawn["frontier"]
    assert (tmp / "f.png").stat().st_size > 10_000
    assert fig.number not in plt.get_fignums()  # closed
    ax = fig.axes[0]
    ticks_read_as_numbers(fig, ax.yaxis)
    # the batch sizes as plain numbers, not 10^n
    assert [t.get_text() for t in ax.xaxis.get_ticklabels()] == ["10", "100", "1000"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for kind in ("point", "range", "open_below", "open_above", fr.FASTER, fr.SLOWER):
        assert fr_words(kind) in legend, kind
    hostile = [t for t in ax.get_legend().get_texts() if HOSTILE in t.get_text()]
    assert hostile and not any(t.get_parse_math() for t in hostile)
    # the batch without a bound is named, not drawn
    (note,) = [t for t in ax.get_legend().get_texts() if "no bound" in t.get_text()]
    text = " ".join(note.get_text().split())  # long entries are wrapped
    assert text.endswith("bfloat16, batch 1000: none (no clear crossover)")
    assert not ax.title.get_parse_math() and not ax.xaxis.label.get_parse_math()
    assert ax.get_position().width > 0.75  # the legend sits below, not beside
    # a point's interval is its error bar: 2.9M to 3.3M at batch 10
    segments = [
        seg
        for coll in ax.collections
        for seg in getattr(coll, "get_segments", list)()
        if len(seg) == 2 and seg[0][0] == 10
    ]
    assert any(
        np.allclose(sorted([seg[0][1], seg[1][1]]), [2.9e6, 3.3e6]) for seg in segments
    )


def fr_words(kind):
    from sweeplib.report.frontier_plots import MARKS

    return MARKS[kind][2]


def test_the_speedup_map_draws_a_panel_per_series_with_the_crossover(drawn):
    fig, tmp = drawn["map"]
    assert (tmp / "m.png").stat().st_size > 10_000
    assert fig.number not in plt.get_fignums()
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3  # (here, cpu, bfloat16), (here, cpu, float32), (there)
    for ax in panels:
        ticks_read_as_numbers(fig, ax.xaxis)
        assert not ax.title.get_parse_math()
    assert any(HOSTILE in ax.get_title() for ax in panels)
    (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert "speedup" in bar.get_ylabel()
    # the colour scale is centred at 1 on a log scale
    norm = panels[0].collections[0].norm
    assert norm.vmin * norm.vmax == pytest.approx(1.0)
    assert [t.get_text() for t in panels[1].get_yticklabels()] == ["10", "100", "1000"]
    # the crossover of batch 10 (row 0), float32: a marker at its estimate
    marks = [
        line
        for line in panels[1].get_lines()
        if line.get_marker() == "D" and list(line.get_xdata()) == [3.1e6]
    ]
    assert marks and -0.5 < marks[0].get_ydata()[0] < 0.5


def test_one_batch_size_is_drawn_with_a_message(tmp_path):
    summ = summary({(10, "float32"): {"cpu": entry([point(4e5, 3e5, 5e5)])}})
    table = table_of(summ, {(10, "float32", "cpu"): 4e5})
    frontier = fr.frontier_table(summ, table)
    fig = frontier_plot(frontier, LABELS, tmp_path / "f.png")
    assert any("One batch size only" in t.get_text() for t in fig.axes[0].texts)
    assert [t.get_text() for t in fig.axes[0].xaxis.get_ticklabels()] == ["10"]
    fig = speedup_map(table, frontier, LABELS, tmp_path / "m.png")
    assert (tmp_path / "m.png").exists() and fig.number not in plt.get_fignums()
    ticks_read_as_numbers(fig, fig.axes[0].xaxis)


def test_nothing_to_compare_still_draws_a_figure(tmp_path):
    empty = fr.frontier_table({"curves": {}}, pd.DataFrame())
    assert empty.empty and fr.markdown(empty, LABELS) == "Nothing to compare.\n"
    for fig in (frontier_figure(empty, LABELS), speedup_map_figure(empty, empty, {})):
        assert "No" in fig.axes[0].texts[0].get_text()
        plt.close(fig)


def test_sentences_and_notes_escape_names_for_markdown_when_asked():
    summ = summary(
        {
            (10, "float32"): {"cpu": entry([point(4e5, 3.8e5, 4.2e5)])},
            (100, "float32"): {"cpu": entry([point(2e6, 1.8e6, 2.2e6)])},
        }
    )
    labels = LABELS | {MACHINE: HOSTILE}
    (plain,) = fr.sentences(frontier_of(summ), labels)
    (escaped,) = fr.sentences(frontier_of(summ), labels, md=True)
    assert plain.startswith(f"On {HOSTILE},")
    assert escaped.startswith("On Xeon \\| \\$\\\\frac{1\\$ box,")
    (note,) = fr.monotone_notes(frontier_of(summ), labels, md=True)
    assert "Xeon \\| \\$" in note
