import json

import pandas as pd
import pytest

from sweeplib.plots import speedup_figure, step_time_figure
from sweeplib.report import render
from sweeplib.tables import analyse, cell_table

from synthetic import sweep

SEED = pd.read_csv("data/seed_table.csv")
SETTINGS = {"bootstrap": 200, "confidence": 0.95, "spread_flag": 0.1, "seed": 0}


def build(devices, baseline, scales=(1, 3, 5, 10, 50)):
    steps, timings, hardware = sweep(devices, scales=list(scales), noise=0.05)
    cells = cell_table(steps, timings, hardware, 0.1)
    table, summary = analyse(cells, steps, baseline, SETTINGS, list(scales))
    summary = json.loads(json.dumps(summary))  # as the report reads it back from analysis.json
    manifest = {
        "baseline": baseline, "devices": devices, "scales": list(scales), "analysis": SETTINGS,
        "skipped": [{"scale": 400, "device": devices[-1], "params": 14400360002, "reason": "needs about 107.40 GiB, 20.00 GiB available"}],
        "environment": {"cpu_model": "Test CPU", "usable_cores": 2, "torch": "2.13.0"},
        "hardware": {d: {"device": {"hardware": f"{d} model", "threads": 2, "machine": "m1"}} for d in devices},
    }
    inference = pd.DataFrame([{"scale": s, "device": d, "predictions_equal": True, "max_abs_diff": 0.0, "accuracy": 0.5, "nonfinite_logits": 0,
                               "infer_batch_median_s": 1e-4} for s in scales for d in devices])
    toy = (pd.DataFrame({"epoch": [1], "batch": [1], "loss": [0.75]}), pd.DataFrame({"accuracy": [1.0]}),
           pd.DataFrame({"label": [0, 1], "predicted": [0, 1]}))
    text = render(manifest, cells, table, summary, inference, hardware, timings, *toy, SEED)
    return text, cells, table, summary


def test_skipped_runs_are_listed_with_their_estimate():
    text, *_ = build(["cpu", "cuda"], "cpu")
    assert "## Skipped runs" in text and "| 400 | cuda | 14400360002 | needs about 107.40 GiB, 20.00 GiB available |" in text


def test_one_device_has_nothing_to_compare():
    text, *_ = build(["cpu"], "cpu")
    assert "Only one device was run" in text
    assert "## Inference checks" in text and "## Environment" in text


def test_two_devices_report_the_crossover():
    text, cells, table, summary = build(["cpu", "cuda"], "cpu")
    assert "CUDA overtakes CPU, 2 threads at about" in text
    assert "| scale | params | CPU, 2 threads step (IQR) | CUDA step (IQR) | speedup CUDA |" in text
    assert "No accelerator on this machine" not in text
    assert "post speedup" in text and "0.19x" in text  # the post's table beside ours


def test_three_devices_get_a_column_and_a_sentence_each():
    text, *_ = build(["cpu", "cuda", "mps"], "cpu")
    assert "speedup CUDA" in text and "speedup MPS" in text
    assert text.count("overtakes CPU, 2 threads") + text.count("no crossover within the swept range") == 2


def test_a_sweep_that_never_crosses_says_who_wins():
    text, *_ = build(["cpu1", "cpu"], "cpu1", scales=(1, 2, 3))  # cpu1 is slower per parameter: cpu wins throughout
    assert "CPU, 2 threads against CPU, 1 thread: no crossover within the swept range** (CPU, 2 threads faster at every size swept)" in text


def test_cpu_only_sweep_is_labelled_as_a_stand_in():
    text, *_ = build(["cpu1", "cpu"], "cpu1")
    assert "No accelerator on this machine" in text


@pytest.mark.parametrize("devices", [["cpu"], ["cpu", "cuda"], ["cpu", "cuda", "mps"]])
def test_figures_draw_for_any_number_of_devices(devices, tmp_path):
    _, cells, table, summary = build(devices, "cpu")
    for fig in (speedup_figure(cells, table, summary, SEED), step_time_figure(cells, summary, SEED)):
        out = tmp_path / "f.png"
        fig.savefig(out)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        axes = fig.axes[0]
        assert axes.get_xlabel() == "parameters" and axes.get_xscale() == "log"
