"""The report and the figures, rendered from hand-made sweeps."""

import pytest
from report_helpers import POST, build, curve_of

from sweeplib.report.plots import speedup_figure, step_time_figure
from workflow_helpers import REPORT_HEADINGS


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
    # Skipped, with the estimate.
    assert "| 400 | cuda | 14400360002 | needs about 107.40 GiB" in text


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
    # cpu1 is slower per parameter
    text, *_ = build(["cpu1", "cpu"], "cpu1", scales=(5, 10, 50))
    assert (
        "no crossover within the swept range**: CPU, 2 threads is faster at every size "
        "swept" in text
    )
    assert "No accelerator on this machine" in text


def test_separate_scales_and_overlaps_are_explained():
    text, *_ = build(["cpu", "cuda"], "cpu", pairing="separate", overlap=True)
    assert "† Scales 1, 3, 5, 10, 50: the models did not fit in memory together" in text
    assert (
        "timed regions overlapped: hardware probe of cpu and scale 1, inference check"
        in text
    )


def test_several_machines_get_a_section_each_and_one_summary():
    text, _, table, _, _ = build(
        ["cpu", "cuda"], "cpu", others=[("there", ["cpu1", "cpu"], "cpu1")]
    )
    assert "## This machine: here CPU, 2 cores + cuda model, torch 2.13.0" in text
    assert "## Machine: there CPU, 2 cores, torch 2.13.0" in text
    assert text.count("### Speedup table") == 2
    # One summary row per machine and compared device, each against its own baseline.
    assert (
        "| machine | device | against | crossover | at the largest size | plateau |"
        in text
    )
    assert (
        "| here CPU, 2 cores + cuda model, torch 2.13.0 | CUDA | CPU, 2 threads |"
        in text
    )
    assert (
        "| there CPU, 2 cores, torch 2.13.0 | CPU, 2 threads | CPU, 1 thread |" in text
    )
    # Speedups are only ever formed inside one machine.
    assert set(zip(table["machine"], table["baseline"])) == {
        ("here", "cpu"),
        ("there", "cpu1"),
    }


@pytest.mark.parametrize("devices", [["cpu"], ["cpu", "cuda"], ["cpu", "cuda", "mps"]])
def test_figures_draw_for_any_number_of_devices(devices, tmp_path):
    _, cells, table, summary, names = build(devices, "cpu")
    for fig in (
        speedup_figure(cells, table, summary, POST, names),
        step_time_figure(cells, summary, POST, names),
    ):
        out = tmp_path / "f.png"
        fig.savefig(out)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        axes = fig.axes[0]
        assert axes.get_xlabel() == "parameters" and axes.get_xscale() == "log"


def test_the_speedup_figure_has_a_curve_per_machine_and_device():
    _, cells, table, summary, names = build(
        ["cpu", "cuda"], "cpu", others=[("there", ["cpu1", "cpu"], "cpu1")]
    )
    labels = [
        t.get_text()
        for t in speedup_figure(cells, table, summary, POST, names)
        .axes[0]
        .get_legend()
        .get_texts()
    ]
    # Each curve names its baseline as the tables do, with its threads.
    assert "here CPU: CUDA over CPU, 2 threads" in labels
    assert "there CPU: CPU, 2 threads over CPU, 1 thread" in labels


def test_a_step_faster_than_the_hardware_allows_is_flagged_implausible():
    # Scale 50 on CUDA moves 5.1 GB a step: at the probe's 1 TB/s that takes at least
    # 5.1 ms. A median of 0.1 ms (a step timed without waiting for the device) is
    # flagged; the honest sizes are not.
    def too_fast(w):
        at = (w["scale"] == 50) & (w["device"] == "cuda")
        return w.assign(step_median_s=w["step_median_s"].where(~at, 1e-4))

    text, cells, *_ = build(["cpu", "cuda"], "cpu", tamper=too_fast)
    flagged = cells[cells["implausible"]]
    assert list(zip(flagged["scale"], flagged["device"])) == [(50, "cuda")]
    assert flagged["bound_by"].iloc[0] == "bandwidth"
    assert flagged["bound_s"].iloc[0] == pytest.approx(5.101e9 / 1e12, rel=1e-3)
    assert "**implausible**: scale 50 on CUDA, a median step of 100 µs" in text
    assert "5.10 ms its hardware needs at least" in text
    assert "| 50 | 225,045,002 |" in text and " ‼ |" in text
    honest, cells, *_ = build(["cpu", "cuda"], "cpu")
    assert not cells["implausible"].any() and "**implausible**" not in honest


def test_processes_that_ran_with_other_thread_variables_are_flagged():
    def snakemakes_one(w):
        ran = "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1"
        planned = ran.replace("=1", "=2")
        return w.assign(
            process_threads=2,
            thread_variables=[ran if s == 3 else planned for s in w["scale"]],
        )

    text, *_ = build(["cpu", "cuda"], "cpu", tamper=snakemakes_one)
    assert (
        "scale 3, CPU, 2 threads: its processes ran with the thread variables "
        "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1, not the 2 planned" in text
    )
    assert "scale 5, CPU, 2 threads: its processes ran" not in text


def test_the_posts_table_passes_the_same_check_and_a_fabricated_one_fails():
    text, *_ = build(["cpu", "mps"], "cpu")
    # By hand: scale 100 moves 24 x 900,090,002 - 4 x 300,030,000 = 20,402,040,048
    # bytes a step, 51.01 ms at the M2 Max's 400 GB/s; the post's MPS step was 104 ms.
    assert "scale 100 on MPS: 104.00 ms per step, 2.0× its 51.01 ms bound" in text
    assert "none is more than 3× faster than its bound: plausible." in text
    fabricated = POST.assign(
        seconds=POST["seconds"].where(
            ~((POST["scale"] == 100) & (POST["device"] == "mps")), 1.0
        )
    )
    text, *_ = build(["cpu", "mps"], "cpu", post=fabricated)
    assert "implausible at scale 100 on MPS." in text


def test_a_separate_scale_says_why_its_devices_could_not_share_a_process():
    reason = "torch's BLAS (accelerate) keeps the thread count it loaded with"
    text, *_ = build(["cpu1", "cpu"], "cpu1", pairing="separate", runs_reason=reason)
    assert f"† Scales 1, 3, 5, 10, 50: {reason}, so each device was timed" in text


def test_by_how_much_is_the_largest_size_and_the_plateau_not_the_luckiest_size():
    # Scale 10's CUDA windows are made 3x faster: the largest speedup of the sweep,
    # which the headline must not pick.
    def lucky(w):
        at = (w["scale"] == 10) & (w["device"] == "cuda")
        return w.assign(
            step_median_s=w["step_median_s"].where(~at, w["step_median_s"] / 3)
        )

    scales = (1, 3, 5, 10, 50, 100)
    text, cells, table, summary, _ = build(["cpu", "cuda"], "cpu", scales, tamper=lucky)
    head = curve_of(summary, "here")["devices"]["cuda"]["headline"]
    speedup = table.set_index("scale")["speedup"]
    assert speedup.idxmax() == 10  # the luckiest cell
    assert head["largest"]["scale"] == 100
    assert head["largest"]["speedup"] == pytest.approx(speedup[100])
    # The plateau: both cost models put 50 and 100 in their per-parameter regime;
    # its estimate is the geometric mean of their speedups.
    plateau = head["plateau"]
    assert plateau["scales"] == [50, 100]
    assert plateau["speedup"] == pytest.approx((speedup[50] * speedup[100]) ** 0.5)
    assert plateau["ci_low"] <= plateau["speedup"] <= plateau["ci_high"]
    assert f"at 900,090,002 (scale 100) | {plateau['speedup']:.2f}x [" in text
    assert "By how much: CUDA over CPU, 2 threads is " in text
    lucky_figure = f"{speedup[10]:.2f}x"
    result = text[text.index("## Result") : text.index("## This machine")]
    assert lucky_figure not in result


def test_scales_are_written_as_their_folders_name_them():
    # With a fractional scale in the sweep the scale column is a float column; the
    # report still writes 3, not 3.0, in its tables and notes.
    text, *_ = build(["cpu1", "cpu"], "cpu1", scales=(1, 1.5, 3, 10, 50))
    table = text[text.index("### Speedup table") :]
    assert "| 1.5 | 203,852 |" in table and "| 3 | 812,702 |" in table
    assert "| 3.0 |" not in text and "scale 3.0" not in text
