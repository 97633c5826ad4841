"""The report and the figures, rendered from hand-made sweeps."""

import json

import pandas as pd
import pytest
from sweeplib.analysis import analyse, cell_table
from sweeplib.formatting import speedup_markdown
from sweeplib.plots import speedup_figure, step_time_figure
from sweeplib.report import Sweep, render
from synthetic import hardware, no_spans, windows
from workflow_helpers import REPORT_HEADINGS, ROOT

POST = pd.read_csv(ROOT / "data" / "post_table.csv")
ANALYSIS = {
    "bootstrap": 200,
    "confidence": 0.95,
    "spread_flag": 0.1,
    "model_miss_flag": 0.25,
    "seed": 0,
}


def build(
    devices, baseline, scales=(1, 3, 5, 10, 50), pairing="interleaved", spans=None
):
    w = windows(devices, list(scales), noise=0.02, pairing=pairing)
    cells = cell_table(w, hardware(devices), 0.1)
    table, summary = analyse(
        cells,
        w,
        baseline,
        ANALYSIS,
        list(scales),
        no_spans() if spans is None else spans,
    )
    summary = json.loads(
        json.dumps(summary)
    )  # as the report reads it back from analysis.json
    manifest = {
        "baseline": baseline,
        "devices": devices,
        "scales": list(scales),
        "analysis": ANALYSIS,
        "skipped": [
            {
                "scale": 400,
                "device": devices[-1],
                "params": 14400360002,
                "reason": "needs about 107.40 GiB of host memory, 20.00 GiB available",
            }
        ],
        "environment": {"cpu_model": "Test CPU", "usable_cores": 2, "torch": "2.13.0"},
        "hardware": {
            d: {"device": {"hardware": f"{d} model", "threads": 2, "machine": "m1"}}
            for d in devices
        },
    }
    inference = pd.DataFrame(
        [
            {
                "scale": s,
                "device": d,
                "predictions_equal": True,
                "max_abs_diff": 0.0,
                "accuracy": 0.5,
                "nonfinite_logits": 0,
                "infer_batch_median_s": 1e-4,
                "started_at": 0.0,
                "ended_at": 1.0,
            }
            for s in scales
            for d in devices
        ]
    )
    sweep = Sweep(
        manifest,
        cells,
        table,
        summary,
        speedup_markdown(cells, table, baseline),
        inference,
        hardware(devices),
        w,
        pd.DataFrame({"epoch": [1], "batch": [1], "loss": [0.75]}),
        pd.DataFrame({"accuracy": [1.0]}),
        pd.DataFrame({"label": [0, 1], "predicted": [0, 1]}),
        POST,
        "abc123def456",
    )
    return render(sweep), cells, table, summary


def test_two_devices_report_every_section_and_the_crossover():
    text, *_ = build(["cpu", "cuda"], "cpu")
    for heading in REPORT_HEADINGS:
        assert heading in text
    assert "CUDA overtakes CPU, 2 threads" in text
    assert (
        "| scale | params | CPU, 2 threads step (IQR) | CUDA step (IQR) | speedup CUDA "
        "| rounds (processes) |" in text
    )
    assert "No accelerator on this machine" not in text
    assert "post speedup" in text and "0.19x" in text  # the post's table beside ours
    assert (
        "| 400 | cuda | 14400360002 | needs about 107.40 GiB" in text
    )  # skipped, with the estimate


def test_one_device_has_nothing_to_compare():
    text, *_ = build(["cpu"], "cpu")
    assert "Only one device was run" in text and "## Inference checks" in text


def test_three_devices_get_a_column_and_a_statement_each():
    text, *_ = build(["cpu", "cuda", "mps"], "cpu")
    assert "speedup CUDA" in text and "speedup MPS" in text
    assert (
        "CUDA overtakes CPU, 2 threads" in text
        and "MPS overtakes CPU, 2 threads" in text
    )


def test_a_sweep_that_never_crosses_says_who_wins():
    text, *_ = build(
        ["cpu1", "cpu"], "cpu1", scales=(5, 10, 50)
    )  # cpu1 is slower per parameter
    assert (
        "no crossover within the swept range**: CPU, 2 threads is faster at every size "
        "swept" in text
    )
    assert "No accelerator on this machine" in text


def test_separate_scales_and_overlaps_are_explained():
    spans = pd.DataFrame(
        {
            "job": ["scale 1, timing process 0", "hardware probe of cpu"],
            "start": [0.0, 1.0],
            "end": [2.0, 3.0],
        }
    )
    text, *_ = build(["cpu", "cuda"], "cpu", pairing="separate", spans=spans)
    assert "† Scales 1, 3, 5, 10, 50: the models did not fit in memory together" in text
    assert (
        "timed regions overlapped: scale 1, timing process 0 and hardware probe of cpu"
        in text
    )


@pytest.mark.parametrize("devices", [["cpu"], ["cpu", "cuda"], ["cpu", "cuda", "mps"]])
def test_figures_draw_for_any_number_of_devices(devices, tmp_path):
    _, cells, table, summary = build(devices, "cpu")
    for fig in (
        speedup_figure(cells, table, summary, POST),
        step_time_figure(cells, summary, POST),
    ):
        out = tmp_path / "f.png"
        fig.savefig(out)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (
            fig.axes[0].get_xlabel() == "parameters"
            and fig.axes[0].get_xscale() == "log"
        )
