"""What a folder brought in can cost is bounded and its own: a plan that is too deep,
too long or not text is refused with a note naming the limit; a lock record that
cannot be read is a message; rows past the limits are refused; and an error in
another machine's share of the analysis or the report leaves that machine out
while this machine's is written (docs/MACHINES.md). Fast: no Snakemake."""

import json
import os
import time

import numpy as np
import pandas as pd
import pytest
from report_helpers import ANALYSIS, POST, machines_of

from sweeplib.analyse import gather
from sweeplib.analyse.analysis import analyse_curves
from sweeplib.common import locks
from sweeplib.common.tables import read_csv
from sweeplib.plan import brought_in
from sweeplib.report.document import render
from sweeplib.report.sweep import Sweep
from synthetic import hardware, inference, plan, windows

ANY = {"type": "object"}


def read(tmp_path, text: str | bytes, schema=ANY):
    path = tmp_path / "plan.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return brought_in.read_json(path, schema, tmp_path)


def test_a_plan_nested_past_what_python_parses_is_refused_not_a_crash(tmp_path):
    with pytest.raises(brought_in.Refused, match="MAX_DEPTH"):
        read(tmp_path, "[" * 100_000 + "]" * 100_000)


def test_a_plan_nested_past_the_limit_is_refused_before_it_is_copied(tmp_path):
    nested = 1
    for _ in range(500):  # parses, and copy.deepcopy would recurse past its limit
        nested = {"a": nested}
    with pytest.raises(brought_in.Refused, match=r"\$\.config\.a\.a.*MAX_DEPTH"):
        read(tmp_path, json.dumps({"format": 1, "config": nested}))


def test_a_number_that_parses_as_infinity_is_refused(tmp_path):
    with pytest.raises(brought_in.Refused, match="1e999 is not a finite number"):
        read(tmp_path, '{"format": 1, "scales": [1, 1e999]}')


def test_a_lone_surrogate_in_a_plan_is_refused(tmp_path):
    with pytest.raises(brought_in.Refused, match=r"\$\.cpu_model.*not printable text"):
        read(tmp_path, '{"format": 1, "cpu_model": "CPU \\ud800"}')


def test_a_list_longer_than_the_limit_is_refused_before_it_is_checked(tmp_path):
    runs = [{"key": f"{i:012x}"} for i in range(brought_in.MAX_RUNS + 1)]
    with pytest.raises(
        brought_in.Refused, match=r"\$\.runs has 2,001 entries.*MAX_RUNS"
    ):
        read(tmp_path, json.dumps({"format": 1, "runs": runs}))


def test_a_plan_larger_than_the_limit_is_refused_unread(tmp_path):
    with pytest.raises(brought_in.Refused, match="MAX_JSON_BYTES"):
        read(tmp_path, b" " * (brought_in.MAX_JSON_BYTES + 1))


def test_runs_sharing_a_key_are_found_among_the_most_runs_a_plan_may_list():
    run = {"scale": 1, "key": "0" * 12, "devices": ["cpu"], "pairing": "separate"}
    runs = [{**run, "key": f"{i:012x}", "wave": i} for i in range(brought_in.MAX_RUNS)]
    runs[-1]["key"] = runs[0]["key"]
    plan_ = {
        "machine": "m",
        "info": {"tag": "m"},
        "scales": [1],
        "skipped": [],
        "devices": ["cpu"],
        "baseline": "cpu",
        "hardware": {"cpu": {}},
        "runs": runs,
    }
    problems = brought_in.consistency_problems("m", plan_, {"tag": "m"})
    assert problems == ["plan.json: runs share the key '000000000000'"]


def test_a_scale_named_twice_is_refused_by_hashing_not_by_the_schema():
    run = {"scale": 1, "key": "0" * 12, "devices": ["cpu"] * 2, "pairing": "separate"}
    plan_ = {
        "machine": "m",
        "info": {"tag": "m"},
        "scales": [1, 2, 1.0],
        "skipped": [],
        "devices": ["cpu"],
        "baseline": "cpu",
        "hardware": {"cpu": {}},
        "runs": [run],
    }
    assert brought_in.consistency_problems("m", plan_, {"tag": "m"}) == [
        "plan.json: scales names one entry twice",
        "plan.json: runs[0].devices names one entry twice",
    ]


def test_a_folder_whose_name_is_not_utf8_gets_a_note_that_can_be_written(tmp_path):
    base = tmp_path / "results/machines"
    base.mkdir(parents=True)
    os.mkdir(os.fsencode(base) + b"/odd-\xff-00000001")
    _, notes = brought_in.other_machines("here", tmp_path)
    (note,) = notes
    assert note["folder"] == "results/machines/odd-\\xff-00000001"
    assert "not a machine tag" in note["reason"]
    (note["folder"] + note["reason"]).encode("utf-8")


def test_an_error_reading_a_folder_leaves_it_out_quoted(tmp_path, monkeypatch):
    (tmp_path / "results/machines/other-00000001").mkdir(parents=True)

    def broken(folder, root):
        raise ZeroDivisionError("a check this module lacks")

    monkeypatch.setattr(brought_in, "read_machine", broken)
    plans, notes = brought_in.other_machines("here", tmp_path)
    assert plans == {}
    assert notes == [
        {
            "folder": "results/machines/other-00000001",
            "reason": "reading it failed: ZeroDivisionError: a check this module lacks",
        }
    ]


def test_a_lock_record_with_a_null_start_time_is_a_message(tmp_path):
    (tmp_path / locks.LOCKS).mkdir(parents=True)
    (tmp_path / locks.LOCKS / "0.output.lock").write_text("results/report.md\n")
    (tmp_path / locks.OWNERS).mkdir(parents=True, exist_ok=True)
    record = {**locks.identity(os.getpid()), "started": None}
    (tmp_path / locks.OWNERS / "me.json").write_text(json.dumps(record))
    removed, why = locks.clear_stale_locks(tmp_path)
    assert removed == [] and "cannot be read" in why
    assert (tmp_path / locks.LOCKS / "0.output.lock").exists()


# --- rows -----------------------------------------------------------------------

MACHINE = "other-00000001"


def timings_file(tmp_path, frame: pd.DataFrame) -> str:
    path = f"results/machines/{MACHINE}/runs/scale1/0123456789ab/cpu/timings.csv"
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    frame.assign(run_key="0123456789ab", scale=1, device="cpu").to_csv(
        tmp_path / path, index=False
    )
    return path


def test_a_file_with_more_rows_than_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gather, "MAX_ROWS", 10)
    path = timings_file(tmp_path, pd.DataFrame({"process": range(11)}))
    with pytest.raises(gather.Bad, match="more than 10 rows"):
        gather.read(path)


def test_more_windows_than_the_analysis_is_sized_for_are_refused(monkeypatch):
    monkeypatch.setattr(gather, "MAX_WINDOWS", 20)
    w = windows(["cpu1", "cpu"], [1], processes=3, rounds=7, tag=MACHINE)
    with pytest.raises(gather.Bad, match=r"3 processes of up to 7 rounds.*MAX_WINDOWS"):
        gather.check_windows([w])


def test_more_processes_in_a_cell_than_the_limit_are_refused():
    n = gather.MAX_CELL_PROCESSES + 1
    w = pd.DataFrame({"scale": 1, "device": "cpu", "process": range(n), "round": 0})
    with pytest.raises(gather.Bad, match=r"1,001 processes.*MAX_CELL_PROCESSES"):
        gather.check_windows([w])


def test_a_machine_over_the_total_of_windows_is_refused_quickly():
    import time

    # Six scales, each within MAX_WINDOWS (20 processes of 1,000 rounds): 120,000
    # windows of the bootstrap's, past the machine's total.
    w = pd.DataFrame(
        {
            "scale": np.repeat(np.arange(1, 7), 20_000),
            "device": "cpu",
            "process": np.tile(np.repeat(np.arange(20), 1000), 6),
            "round": np.tile(np.arange(1000), 120),
        }
    )
    start = time.perf_counter()
    with pytest.raises(gather.Bad, match=r"120,000 windows.*MAX_MACHINE_WINDOWS"):
        gather.check_windows([w])
    assert time.perf_counter() - start < 2.0


def test_a_folder_with_more_csv_bytes_than_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(brought_in, "MAX_MACHINE_CSV_BYTES", 1000)
    folder = tmp_path / "results/machines" / MACHINE
    for i in range(3):
        (folder / f"runs/scale{i + 1}").mkdir(parents=True)
        (folder / f"runs/scale{i + 1}/timings.csv").write_text("x\n" * 150)
    (folder / "model.pt").write_bytes(b"0" * 5000)  # not a CSV: not counted
    brought_in.check_plain_tree(folder, tmp_path)  # 900 bytes of CSV
    (folder / "runs/scale1/steps.csv").write_text("x\n" * 100)
    with pytest.raises(brought_in.Refused, match="MAX_MACHINE_CSV_BYTES"):
        brought_in.check_plain_tree(folder, tmp_path)


def test_a_blank_number_where_this_machine_has_numbers_is_refused():
    ours = windows(["cpu1", "cpu"], [1], tag="here")
    theirs = windows(["cpu1", "cpu"], [1], tag=MACHINE)
    theirs.loc[theirs.index[3], "threads"] = float("nan")
    theirs.attrs["path"] = "theirs.csv"
    with pytest.raises(gather.Bad, match="threads is blank in 1 rows"):
        gather.check_table("timings", [theirs], [ours], imported=True)


def test_a_machine_that_swept_float32_only_lacks_no_column_of_bfloat16s():
    # This machine's sweep lists bfloat16, so its probes measured flops_bfloat16;
    # another's, on the same code, swept float32 alone: it is as sound.
    ours = hardware(["cpu1", "cpu"]).assign(flops_bfloat16=1e12)
    theirs = hardware(["cpu1", "cpu"], machine=MACHINE)
    theirs.attrs["path"] = "theirs.csv"
    gather.check_table("hardware", [theirs], [ours], imported=True)
    # Where another machine gives it, it lies in its range.
    wrong = theirs.assign(flops_bfloat16=-1.0)
    wrong.attrs["path"] = "theirs.csv"
    with pytest.raises(gather.Bad, match="flops_bfloat16 is -1.0"):
        gather.check_table("hardware", [wrong], [ours], imported=True)


def test_a_blank_where_this_machine_has_no_number_for_that_device_is_accepted():
    # This machine's CPU rows have no device memory; another's CUDA rows have, and
    # its CPU rows none either. A column this machine fills on CPU only may be
    # blank in another machine's CUDA rows.
    ours = windows(["cpu1", "cpu"], [1], tag="here").assign(
        device_peak_bytes=float("nan"), data_share=0.01
    )
    theirs = windows(["cpu", "cuda"], [1], tag=MACHINE).assign(
        device_peak_bytes=float("nan"), data_share=0.01
    )
    cuda = theirs["device"] == "cuda"
    theirs.loc[cuda, "device_peak_bytes"] = 2.0**30
    theirs.loc[cuda, "data_share"] = float("nan")
    theirs.attrs["path"] = "theirs.csv"
    gather.check_table("timings", [theirs], [ours], imported=True)
    theirs.loc[~cuda, "data_share"] = float("nan")  # ours fill it on CPU: refused
    with pytest.raises(gather.Bad, match="data_share is blank"):
        gather.check_table("timings", [theirs], [ours], imported=True)


def test_columns_blank_by_configuration_are_accepted_where_ours_are_filled():
    # Another machine ran scale 2 with switch_steps: 0 (allowed, per scale too) and
    # saved its model from a process that ran no evaluation.
    ours = windows(["cpu1", "cpu"], [1, 2], tag="here").assign(
        eval_batches=4, final_accuracy=0.5, warmup_s=0.1
    )
    theirs = windows(["cpu1", "cpu"], [1, 2], tag=MACHINE).assign(
        eval_batches=4, final_accuracy=0.5, warmup_s=0.1
    )
    at_2 = theirs["scale"] == 2
    theirs.loc[at_2, "switch_step_s"] = float("nan")
    theirs.loc[at_2, ["eval_s", "eval_batches", "final_accuracy"]] = float("nan")
    theirs.loc[at_2, "warmup_s"] = float("nan")  # warmup_steps: 0
    theirs.attrs["path"] = "theirs.csv"
    gather.check_table("timings", [theirs], [ours], imported=True)


def test_a_blank_where_ours_are_filled_is_refused_with_its_own_reason():
    ours = windows(["cpu1", "cpu"], [1], tag="here")
    theirs = windows(["cpu1", "cpu"], [1], tag=MACHINE)
    theirs.loc[theirs.index[2], "first_step_s"] = float("nan")
    theirs.attrs["path"] = "theirs.csv"
    with pytest.raises(
        gather.Bad, match=r"first_step_s is blank in 1 rows of \w+, where this machine"
    ):
        gather.check_table("timings", [theirs], [ours], imported=True)


def test_a_step_of_less_than_a_nanosecond_is_refused():
    ours = windows(["cpu1", "cpu"], [1], tag="here")
    theirs = windows(["cpu1", "cpu"], [1], tag=MACHINE).assign(step_median_s=5e-324)
    theirs.attrs["path"] = "theirs.csv"
    with pytest.raises(gather.Bad, match="step_median_s is 5e-324.*RANGES"):
        gather.check_table("timings", [theirs], [ours], imported=True)


def test_windows_with_this_machines_step_times_are_a_copy_whatever_their_dates():
    ours = windows(["cpu1", "cpu"], [1], tag="here")
    theirs = ours.assign(
        machine=MACHINE,
        started_at=ours["started_at"] + 3600,
        ended_at=ours["ended_at"] + 3600,
    )
    seen = {"here": gather.fingerprint([ours]), MACHINE: gather.fingerprint([theirs])}
    with pytest.raises(gather.Bad, match="very step times of results/machines/here"):
        gather.check_not_a_copy_of(MACHINE, seen)


def test_a_machine_of_few_windows_is_no_copy_for_one_step_time_in_common():
    ours = windows(["cpu1", "cpu"], [1], tag="here", seed=1)
    theirs = windows(["cpu1", "cpu"], [1], processes=1, rounds=2, tag=MACHINE, seed=2)
    # One of its four windows measured, to the bit, what one of ours did.
    same = ["device", "step_median_s", "step_q25_s", "step_q75_s"]
    match = ours[ours["device"] == theirs["device"].iloc[0]].iloc[0]
    theirs.loc[theirs.index[0], same] = match[same].to_numpy()
    seen = {"here": gather.fingerprint([ours]), MACHINE: gather.fingerprint([theirs])}
    assert len(seen["here"] & seen[MACHINE]) == 1
    gather.check_not_a_copy_of(MACHINE, seen)


def test_windows_measured_apart_are_no_copy():
    ours = windows(["cpu1", "cpu"], [1], tag="here", seed=1)
    theirs = windows(["cpu1", "cpu"], [1], tag=MACHINE, seed=2)
    seen = {"here": gather.fingerprint([ours]), MACHINE: gather.fingerprint([theirs])}
    gather.check_not_a_copy_of(MACHINE, seen)


def machine_files(tag: str, frame: pd.DataFrame) -> list[str]:
    """A machine's timing files, one per scale and device, where the plans put them
    (the caller is in the project's folder)."""
    from sweeplib.common import keys

    paths = []
    frame = frame.assign(
        step_min_s=frame["step_median_s"] * 0.9, step_max_s=frame["step_median_s"] * 1.2
    )
    for (scale, device), g in frame.groupby(["scale", "device"]):
        key = g["run_key"].iloc[0]
        place = {"machine": tag, "scale": scale, "key": key, "device": device}
        folder = keys.DEVICE_RUN.format(**place)
        os.makedirs(folder, exist_ok=True)
        g.drop(columns="machine").to_csv(f"{folder}/timings.csv", index=False)
        paths.append(f"{folder}/timings.csv")
    return paths


def test_a_refused_value_in_this_machines_rows_is_raised_beside_another_machine(
    tmp_path, monkeypatch
):
    # Left out, this machine's rows would let the aggregation go on without them,
    # with the other machine's alone, and blame nobody.
    monkeypatch.chdir(tmp_path)
    ours = windows(["cpu1", "cpu"], [1], tag="here")
    paths = machine_files("here", ours)
    bad = paths[0]
    frame = read_csv(bad).assign(step_min_s=0.0)
    frame.to_csv(bad, index=False)
    paths += machine_files(MACHINE, windows(["cpu1", "cpu"], [1], tag=MACHINE, seed=2))
    with pytest.raises(gather.Bad, match=r"results/machines/here: .*step_min_s = 0\.0"):
        gather.gather({"timings": paths}, "here")


def test_an_unreadable_file_of_this_machine_is_raised_beside_another_machine(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    paths = machine_files("here", windows(["cpu1", "cpu"], [1], tag="here"))
    with open(paths[0], "w") as f:
        f.write("")  # no rows
    paths += machine_files(MACHINE, windows(["cpu1", "cpu"], [1], tag=MACHINE, seed=2))
    with pytest.raises(gather.Bad, match=f"^{paths[0]} "):
        gather.gather({"timings": paths}, "here")


# --- the analysis and the report, machine by machine ---------------------------


def two_machines():
    machines = [("here", ["cpu1", "cpu"], "cpu1"), ("there", ["cpu1", "cpu"], "cpu1")]
    w = pd.concat([windows(d, [1, 2], tag=h) for h, d, _ in machines])
    hw = pd.concat([hardware(d, machine=h) for h, d, _ in machines])
    inf = pd.concat([inference(d, [1, 2], machine=h) for h, d, _ in machines])
    plans = {h: plan(d, b, [1, 2], machine=h) for h, d, b in machines}
    return w, inf, hw, {"machine": "here", "plans": plans, "analysis": ANALYSIS}


def test_an_error_in_another_machines_analysis_leaves_it_out_with_a_note():
    w, inf, hw, manifest = two_machines()
    del manifest["plans"]["there"]["scales"]  # what the analysis reads
    cells, table, summary = analyse_curves(w, inf, hw, manifest)
    assert set(cells["machine"]) == {"here"} and machines_of(summary) == {"here"}
    (note,) = summary["left_out"]
    assert note == {
        "folder": "results/machines/there",
        "reason": "analysing its rows failed: KeyError: 'scales'",
    }


def test_an_error_in_this_machines_analysis_is_raised():
    w, inf, hw, manifest = two_machines()
    del manifest["plans"]["here"]["scales"]
    with pytest.raises(KeyError, match="scales"):
        analyse_curves(w, inf, hw, manifest)


def sweep_of(manifest, w, inf, hw):
    cells, table, summary = analyse_curves(w, inf, hw, manifest)
    toy = (
        pd.DataFrame({"epoch": [1], "batch": [1], "loss": [0.75]}),
        pd.DataFrame({"accuracy": [1.0]}),
        pd.DataFrame({"label": [0, 1], "predicted": [0, 1]}),
    )
    summary = json.loads(json.dumps(summary))
    return Sweep(manifest, cells, table, summary, inf, hw, w, *toy, POST, "abc")


def test_an_error_in_another_machines_share_of_the_report_leaves_it_out():
    from sweeplib.report.isolation import isolated_report

    w, inf, hw, manifest = two_machines()
    sweep = sweep_of(manifest, w, inf, hw)
    del sweep.manifest["plans"]["there"]["environment"]  # what its section reads
    kept, text = isolated_report(sweep, render)
    assert "## This machine: " in text and "## Machine: " not in text
    assert (
        "results/machines/there: writing its part of the report failed: KeyError: "
        "'environment'" in text
    )
    assert set(kept.timings["machine"]) == {"here"}


def test_a_machine_whose_share_of_the_figures_fails_is_left_out_of_the_report(
    monkeypatch,
):
    from sweeplib.report import isolation

    def figures(cells, table, summary, post, names, out=frozenset()):
        if "there" not in out:
            raise ValueError("a label matplotlib cannot draw")
        return []

    monkeypatch.setattr(isolation, "figures", figures)
    w, inf, hw, manifest = two_machines()
    _, text = isolation.isolated_report(sweep_of(manifest, w, inf, hw), render, True)
    assert "## This machine: " in text and "## Machine: " not in text
    assert (
        "results/machines/there: drawing it failed: ValueError: a label matplotlib "
        "cannot draw" in text
    )


def test_the_figures_of_two_machines_draw_to_the_end():
    from sweeplib.report.isolation import figures, names_of

    w, inf, hw, manifest = two_machines()
    sweep = sweep_of(manifest, w, inf, hw)
    args = (sweep.cells, sweep.table, sweep.summary, POST, names_of(manifest))
    assert len(figures(*args)) == 4  # speedup, step time, frontier, speedup map


def test_an_error_in_this_machines_share_of_the_report_is_raised():
    from sweeplib.report.isolation import isolated_report

    w, inf, hw, manifest = two_machines()
    sweep = sweep_of(manifest, w, inf, hw)
    del sweep.manifest["plans"]["here"]["environment"]
    with pytest.raises(KeyError, match="environment"):
        isolated_report(sweep, render)


class Tries:
    """A step that fails while ``fails(out)`` holds (``out``: the machines left out),
    its result the machines left out; each try recorded."""

    def __init__(self, fails):
        self.fails, self.calls, self.discarded = fails, [], []

    def __call__(self, out):
        self.calls.append(frozenset(out))
        if self.fails(out):
            raise ValueError("a label matplotlib cannot draw")
        return frozenset(out)

    def discard(self, result):
        self.discarded.append(result)

    def assert_no_try_twice(self):
        assert len(set(self.calls)) == len(self.calls), self.calls


def test_only_the_machines_whose_share_fails_are_found_at_fault():
    # As plot_sweep draws the figures: tried with all, then with this machine alone,
    # then with each other machine alone beside this one.
    from sweeplib.report.isolation import at_fault

    draw = Tries(lambda out: "bad" not in out)
    result, notes = at_fault(draw, ["good", "bad", "fine"], "drawing it failed")
    assert notes == [
        {
            "folder": "results/machines/bad",
            "reason": "drawing it failed: ValueError: a label matplotlib cannot draw",
        }
    ]
    assert result == {"bad"}  # the try that succeeded, not drawn again
    draw.assert_no_try_twice()
    fine = Tries(lambda out: False)
    assert at_fault(fine, ["good", "bad"], "drawing it failed") == (frozenset(), [])
    assert fine.calls == [frozenset()]  # one try where all succeed


def test_a_failure_of_this_machine_alone_is_raised_and_blames_nobody():
    from sweeplib.report.isolation import at_fault

    draw = Tries(lambda out: True)
    with pytest.raises(ValueError, match="cannot draw"):
        at_fault(draw, ["good", "fine"], "drawing it failed")
    assert draw.calls == [frozenset(), frozenset({"good", "fine"})]


def test_with_one_other_machine_no_try_is_made_twice():
    from sweeplib.report.isolation import at_fault

    draw = Tries(lambda out: "bad" not in out)
    result, notes = at_fault(draw, ["bad"], "drawing it failed")
    assert draw.calls == [frozenset(), frozenset({"bad"})]
    assert result == {"bad"} and [n["folder"] for n in notes] == [
        "results/machines/bad"
    ]


def test_machines_that_fail_only_together_are_left_out_with_a_note_saying_so():
    from sweeplib.report.isolation import at_fault

    draw = Tries(lambda out: not {"a", "b"} & out)  # a and b side by side fail
    result, notes = at_fault(draw, ["a", "b"], "drawing it failed", draw.discard)
    assert result == {"a", "b"}  # this machine alone
    assert [n["folder"] for n in notes] == ["results/machines/a", "results/machines/b"]
    assert all(
        "results/machines/a, results/machines/b together" in n["reason"] for n in notes
    )
    draw.assert_no_try_twice()
    # Each alone's result was discarded, the one returned was not.
    assert set(draw.discarded) == {frozenset({"a"}), frozenset({"b"})}


def test_the_machines_at_fault_and_the_rest_that_fails_together_are_all_left_out():
    from sweeplib.report.isolation import at_fault

    # bad fails alone; c and d fail only together.
    draw = Tries(lambda out: "bad" not in out or not {"c", "d"} & out)
    result, notes = at_fault(draw, ["bad", "c", "d"], "drawing it failed")
    assert result == {"bad", "c", "d"}
    assert [n["folder"].rsplit("/", 1)[1] for n in notes] == ["bad", "c", "d"]
    assert "together" in notes[1]["reason"] and "together" not in notes[0]["reason"]
    draw.assert_no_try_twice()


def test_when_all_but_one_fail_alone_the_last_ones_try_is_used_not_repeated():
    from sweeplib.report.isolation import at_fault

    draw = Tries(lambda out: not {"a", "b"} <= out)
    result, notes = at_fault(draw, ["a", "b", "c"], "drawing it failed", draw.discard)
    assert result == {"a", "b"} and len(notes) == 2
    draw.assert_no_try_twice()
    assert frozenset({"a", "b"}) not in draw.discarded


def test_where_nothing_fails_the_report_is_rendered_and_drawn_once(monkeypatch):
    from sweeplib.report import isolation

    calls = {"render": 0, "figures": 0}

    def figures(*args, **kwargs):
        calls["figures"] += 1
        return []

    def counted(sweep):
        calls["render"] += 1
        return render(sweep)

    monkeypatch.setattr(isolation, "figures", figures)
    w, inf, hw, manifest = two_machines()
    _, text = isolation.isolated_report(sweep_of(manifest, w, inf, hw), counted, True)
    assert "## Machine: " in text
    assert calls == {"render": 1, "figures": 1}


def test_the_figures_of_every_try_are_closed(monkeypatch):
    import matplotlib.pyplot as plt

    from sweeplib.report import isolation, plots

    w, inf, hw, manifest = two_machines()
    sweep = sweep_of(manifest, w, inf, hw)
    drawn = plots.step_time_figure

    def step_time_figure(cells, summary, post, names):
        fig = drawn(cells, summary, post, names)
        if "there" in set(cells["machine"]):
            raise ValueError("a label matplotlib cannot draw")
        return fig

    monkeypatch.setattr(plots, "step_time_figure", step_time_figure)
    plt.close("all")
    _, text = isolation.isolated_report(sweep, render, draw=True)
    assert "results/machines/there: drawing it failed" in text
    assert plt.get_fignums() == []


# --- identity ---------------------------------------------------------------------


def described_with_a_gpu(**gpu):
    """A machine with a CUDA device, its description and its plan's probes as the
    workflow writes them, read back from JSON."""
    import dataclasses

    from sweeplib.common.devices import device_threads
    from sweeplib.common.env import cpu_model
    from sweeplib.plan.machines import describe_machine
    from sweeplib.plan.sweep import device_identity
    from synthetic import facts

    probe = facts(accelerators=("cuda",))
    probe["accelerators"]["cuda"].update(capability="9.0", multiprocessors=132, **gpu)
    env = {"cpu_model": cpu_model(), "usable_cores": 2, "torch": "2.13.0+cu128"}
    _, info = describe_machine(env, probe)
    devices = {
        d: device_identity(d, device_threads(d, 2, probe), env, probe)
        for d in ("cpu1", "cuda")
    }
    hardware = {
        d: {"key": "0" * 12, "device": dataclasses.asdict(device)}
        for d, device in devices.items()
    }
    return json.loads(json.dumps({"info": info, "hardware": hardware}))


def test_a_machine_with_a_gpu_as_the_workflow_describes_it_is_itself():
    plan_ = described_with_a_gpu()
    assert brought_in.identity_problems(plan_, plan_["info"]) == []


def test_a_description_claiming_another_gpu_than_its_tag_was_made_of_is_refused():
    plan_ = described_with_a_gpu()
    claimed = described_with_a_gpu(total_bytes=141 * 2**30)["info"]
    claimed["tag"] = plan_["info"]["tag"]  # the folder's name, the description's GPU
    problems = brought_in.identity_problems({**plan_, "info": claimed}, claimed)
    assert any("describes the machine" in p for p in problems)
    assert any("hardware tag of cuda" in p for p in problems)


def test_a_file_dated_in_the_future_is_refused_with_a_note_naming_it(tmp_path):
    # A copy that kept the dates of a sender whose clock runs ahead: Snakemake
    # would refuse the aggregation's output as older than this input, every run.
    folder = tmp_path / "results/machines" / MACHINE
    (folder / "runs/scale1").mkdir(parents=True)
    timings = folder / "runs/scale1/timings.csv"
    timings.write_text("x\n")
    brought_in.check_plain_tree(folder, tmp_path)
    os.utime(timings, (time.time() + 3600,) * 2)
    with pytest.raises(
        brought_in.Refused, match=r"runs/scale1/timings.csv is dated .* in the future"
    ):
        brought_in.check_plain_tree(folder, tmp_path)
    os.utime(timings, (time.time() + brought_in.MAX_FUTURE_S / 2,) * 2)
    brought_in.check_plain_tree(folder, tmp_path)  # within the tolerance
    os.utime(timings, (1.0, 1.0))  # however early: fine
    brought_in.check_plain_tree(folder, tmp_path)
    os.utime(folder / "runs", (time.time() + 3600,) * 2)
    with pytest.raises(brought_in.Refused, match=r"runs is dated .*MAX_FUTURE_S"):
        brought_in.check_plain_tree(folder, tmp_path)


def test_folders_nested_past_the_limit_are_refused_without_recursion(tmp_path):
    folder = tmp_path / "results/machines" / MACHINE
    deep = folder
    for _ in range(brought_in.MAX_TREE_DEPTH):
        deep = deep / "d"
    deep.mkdir(parents=True)
    brought_in.check_plain_tree(folder, tmp_path)  # as deep as allowed
    for _ in range(1500 - brought_in.MAX_TREE_DEPTH):  # os.walk recursed past its limit
        deep = deep / "d"
        os.mkdir(deep)
    try:
        with pytest.raises(brought_in.Refused, match="17 folders deep.*MAX_TREE_DEPTH"):
            brought_in.check_plain_tree(folder, tmp_path)
    finally:  # (shutil.rmtree recurses too: pytest could not remove them)
        while deep != folder:
            os.rmdir(deep)
            deep = deep.parent


def _theirs_and_ours(table):
    if table == "timings":
        made = [windows(["cpu1", "cpu"], [1], tag=t) for t in ("here", MACHINE)]
    elif table == "inference":
        made = [
            inference(["cpu1", "cpu"], [1], machine=t).assign(
                run_key=["0123456789ab", "ba9876543210"],
                infer_batch_q25_s=0.9e-4,
                infer_batch_q75_s=1.1e-4,
            )
            for t in ("here", MACHINE)
        ]
    else:
        made = [hardware(["cpu1", "cpu"], machine=t) for t in ("here", MACHINE)]
    ours, theirs = made
    theirs.attrs["path"] = "theirs.csv"
    return ours, theirs


@pytest.mark.parametrize(
    ("table", "column", "value", "words"),
    [
        ("inference", "max_abs_diff", -1.0, "max_abs_diff is -1.0.*RANGES_OR_BLANK"),
        ("inference", "max_abs_diff", float("inf"), "max_abs_diff is inf"),
        ("hardware", "llc_bytes", -1.0, "llc_bytes is -1.0.*RANGES_OR_BLANK"),
        ("timings", "threads", 1.5, "threads is 1.5.*whole number"),
        ("timings", "process", 0.5, "process is 0.5.*whole number"),
        ("timings", "round", 2.25, "round is 2.25.*whole number"),
        ("timings", "step_median_s", 1.0, "step_median_s 1.0 is above step_q75_s"),
        ("timings", "step_q25_s", 1.0, "step_q25_s 1.0 is above step_median_s"),
        ("inference", "infer_batch_q75_s", 1e-5, "median_s .* above infer_batch_q75"),
        ("timings", "node", "x" * 20 * 2**20, "node holds 20,971,520 .*MAX_TEXT"),
        ("timings", "node", "vm\u202egpj.exe", "node holds .*202e.*printable"),
        ("timings", "node", "v\u200bm", "not printable text"),
        ("timings", "node", "\ufeffvm", "not printable text"),
    ],
)
def test_an_implausible_value_of_another_machine_is_refused(
    table, column, value, words
):
    ours, theirs = _theirs_and_ours(table)
    gather.check_table(table, [theirs], [ours], imported=True)
    if column not in theirs:
        theirs[column] = ours[column] = "vm"
    theirs[column] = theirs[column].astype(object if isinstance(value, str) else float)
    theirs.loc[theirs.index[1], column] = value
    with pytest.raises(gather.Bad, match=words):
        gather.check_table(table, [theirs], [ours], imported=True)


def test_blanks_where_allowed_and_statistics_equal_up_to_float_noise_are_accepted():
    ours, theirs = _theirs_and_ours("inference")
    theirs.loc[theirs.index[0], "max_abs_diff"] = float("nan")
    gather.check_table("inference", [theirs], [ours], imported=True)
    ours, theirs = _theirs_and_ours("hardware")
    theirs["llc_bytes"] = float("nan")
    gather.check_table("hardware", [theirs], [ours], imported=True)
    ours, theirs = _theirs_and_ours("timings")
    theirs["step_q25_s"] = theirs["step_median_s"] * (1 + 1e-12)
    theirs["threads"] = theirs["threads"].astype(float)  # 2.0: a whole number
    gather.check_table("timings", [theirs], [ours], imported=True)


def test_this_machines_own_text_is_text():
    import platform

    import torch

    from sweeplib.common.env import cpu_model

    texts = (cpu_model(), platform.platform(), platform.python_version())
    for text in (*texts, torch.__version__):
        assert not brought_in.NOT_TEXT.search(text), text


def test_a_bidi_override_in_a_plan_is_refused(tmp_path):
    with pytest.raises(
        brought_in.Refused, match=r"\$\.cpu_model.*u202e.*not printable"
    ):
        read(tmp_path, '{"format": 1, "cpu_model": "CPU \\u202egpj"}')


@pytest.mark.parametrize("threads", ["lots", -5, 0, 1e300, 2.5])
def test_an_implausible_count_of_threads_for_all_is_refused(tmp_path, threads):
    environment = {"cpu_threads_all": threads, "cpu_threads_all_source": "x"}
    with pytest.raises(brought_in.Refused, match=r"\$\.environment\.cpu_threads_all"):
        read(
            tmp_path,
            json.dumps({"format": 1, "environment": environment}),
            {
                "properties": {
                    "environment": brought_in.PLAN_SCHEMA["properties"]["environment"]
                }
            },
        )


def test_cuda_with_a_torch_built_for_cpu_only_is_refused():
    p = plan(["cpu", "cuda"], "cpu", [1], machine=MACHINE)
    p["info"]["torch"] = "2.13.0+cpu"
    problems = brought_in.consistency_problems(MACHINE, p, p["info"])
    assert any("a build without CUDA" in x for x in problems), problems
    p["info"]["torch"] = "2.13.0+cu121"
    assert not brought_in.consistency_problems(MACHINE, p, p["info"])


def test_a_skipped_scale_of_more_than_two_decimals_is_named():
    p = plan(["cpu1", "cpu"], "cpu1", [1], machine=MACHINE)
    p["skipped"] = [{"scale": 1.234, "device": "cpu", "params": 9, "reason": "x"}]
    problems = brought_in.consistency_problems(MACHINE, p, p["info"])
    assert "plan.json: skipped[0].scale is 1.234" in problems[0], problems


def test_the_note_of_a_file_dated_ahead_is_the_same_on_every_run(tmp_path, monkeypatch):
    # The note enters the plan: a figure that changed with the clock (how many
    # seconds ahead) would change the plan, and so rerun the report, on every run.
    folder = tmp_path / "results/machines" / MACHINE
    folder.mkdir(parents=True)
    (folder / "timings.csv").write_text("x\n")
    os.utime(folder / "timings.csv", (time.time() + 3600,) * 2)
    notes = []
    for later in (0, 7):
        now = time.time() + later
        monkeypatch.setattr(brought_in.time, "time", lambda now=now: now)
        with pytest.raises(brought_in.Refused) as refused:
            brought_in.check_plain_tree(folder, tmp_path)
        notes.append(str(refused.value))
    assert notes[0] == notes[1]


def test_a_run_whose_results_were_not_copied_is_named_not_shown_as_skipped(
    tmp_path,
):
    # A folder copied in part is read in part: the runs whose results are not here
    # as files are left out of the tables, and a note says which (the speedup table
    # would otherwise show them as "skipped", as if the plan had skipped them).
    plan_ = {"runs": [{"scale": 1, "key": "0123456789ab", "devices": ["cpu", "cpu1"]}]}
    run = tmp_path / "results/machines" / MACHINE / "runs/scale1/0123456789ab"
    for device in ("cpu", "cpu1"):
        (run / device).mkdir(parents=True)
        (run / device / "inference.csv").write_text("x\n")
    (run / "cpu" / "timings.csv").write_text("x\n")
    (run / "cpu1" / "timings.csv").mkdir()  # a folder where a file belongs
    notes = brought_in.absent_results(MACHINE, plan_, tmp_path)
    assert [n["folder"] for n in notes] == [
        f"results/machines/{MACHINE}/runs/scale1/0123456789ab/cpu1"
    ]
    assert "timings.csv is not here as a plain file" in notes[0]["reason"]
    (run / "cpu1" / "timings.csv").rmdir()
    (run / "cpu1" / "timings.csv").write_text("x\n")
    assert brought_in.absent_results(MACHINE, plan_, tmp_path) == []
