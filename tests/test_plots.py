"""The figures read as figures: log ticks drawn as numbers (10⁵, not the mathtext
source), axes that fill the canvas, and names from elsewhere drawn as plain text."""

import io

import pytest
from test_report import POST, build

from sweeplib.report.plots import speedup_figure, step_time_figure, two_and_five

# A name mathtext cannot parse: drawn as mathtext it raises, drawn as code it reads
# "$\frac{1$".
HOSTILE = "GPU $\\frac{1$ box"


def figures():
    _, cells, table, summary, names = build(
        ["cpu", "cuda"], "cpu", others=[("there", ["cpu", "mps"], "cpu")]
    )
    names["there"] = HOSTILE
    return {
        "speedup": speedup_figure(cells, table, summary, POST, names),
        "step_time": step_time_figure(cells, summary, POST, names),
    }


@pytest.fixture(scope="module")
def drawn():
    out = figures()
    for fig in out.values():
        fig.savefig(io.BytesIO(), format="png", dpi=120)  # lays out every text
    return out


@pytest.mark.parametrize("name", ["speedup", "step_time"])
def test_log_ticks_are_drawn_as_numbers_not_as_their_source(drawn, name):
    fig = drawn[name]
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    ticks = [t for t in ax.xaxis.get_ticklabels() if t.get_visible() and t.get_text()]
    assert [t.get_text() for t in ticks if "10^{5}" in t.get_text()], "no 10^5 tick"
    for tick in ticks:
        # "10⁵" is three characters wide; its source "$\mathdefault{10^{5}}$",
        # drawn as plain text, is over twenty.
        em = tick.get_fontsize() * fig.dpi / 72
        assert tick.get_window_extent(renderer).width < 3 * em, tick.get_text()


@pytest.mark.parametrize("name", ["speedup", "step_time"])
def test_the_axes_fill_the_canvas(drawn, name):
    # Tick labels drawn as code pushed the speedup plot into the right two-thirds.
    assert drawn[name].axes[0].get_position().width > 0.75


@pytest.mark.parametrize("name", ["speedup", "step_time"])
def test_a_name_from_elsewhere_is_drawn_as_plain_text(drawn, name):
    ax = drawn[name].axes[0]
    hostile = [t for t in ax.get_legend().get_texts() if HOSTILE in t.get_text()]
    assert hostile and not any(t.get_parse_math() for t in hostile)
    assert not ax.title.get_parse_math() and not ax.xaxis.label.get_parse_math()


def test_speedup_ticks_read_as_plain_numbers(drawn):
    ax = drawn["speedup"].axes[0]
    majors = {t.get_text() for t in ax.yaxis.get_ticklabels() if t.get_text()}
    assert "1" in majors and not any("$" in t for t in majors)
    assert [two_and_five(v) for v in (0.2, 0.3, 0.5, 2, 7, 50)] == [
        "0.2",
        "",
        "0.5",
        "2",
        "",
        "50",
    ]


def several_curves(w):
    """The windows of one curve as those of four: batch 10 and 100, each in float32
    and bfloat16."""
    import pandas as pd

    return pd.concat(
        [
            w.assign(batch_size=b, precision=p, run_key=w["run_key"] + f"{b}{p}")
            for b in (10, 100)
            for p in ("float32", "bfloat16")
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize("name", ["speedup", "step_time"])
def test_several_curves_are_a_grid_of_panels_with_one_legend(name):
    _, cells, table, summary, names = build(
        ["cpu1", "cpu"], "cpu1", tamper=several_curves
    )
    fig = (
        speedup_figure(cells, table, summary, POST, names)
        if name == "speedup"
        else step_time_figure(cells, summary, POST, names)
    )
    fig.savefig(io.BytesIO(), format="png", dpi=120)
    assert sorted(ax.get_title() for ax in fig.axes) == [
        "batch 10, bfloat16",
        "batch 10, float32",
        "batch 100, bfloat16",
        "batch 100, float32",
    ]
    # The post's figures belong beside its own protocol only: batch 10, float32.
    with_post = [
        ax.get_title()
        for ax in fig.axes
        if any("post" in label for label in ax.get_legend_handles_labels()[1])
    ]
    assert with_post == ["batch 10, float32"]
    # One legend for the grid: each entry once, without the panels' axes.
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert len(labels) == len(set(labels)) and labels
    assert not any("batch" in label for label in labels)
    assert all(not t.get_parse_math() for t in legend.get_texts())
