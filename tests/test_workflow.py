"""The real workflow, end to end, on the tiny sweep; then what reruns when the config
changes."""

import copy
import json
import re
import shutil

import pandas as pd
import pytest
import torch
from report_helpers import machines_of

from expected import machine_plan, planned_pairing
from sweeplib.common.devices import INTERLEAVED, SEPARATE, THREAD_VARIABLES
from sweeplib.common.memory import RUNTIME, data_bytes, model_footprint, timing_needs
from sweeplib.common.sizes import ModelSizes
from sweeplib.common.tables import read_csv
from workflow_helpers import (
    AGGREGATION,
    REPORT_HEADINGS,
    TINY,
    fabricate_machine,
    make_project,
    planned_jobs,
    rules_run,
    snakemake,
    tree,
    write_config,
)

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def project(finished_project, tmp_path_factory):
    """A copy of the finished tiny sweep (dates kept), which these tests may edit."""
    root = tmp_path_factory.mktemp("workflow") / "project"
    shutil.copytree(finished_project, root, symlinks=True)
    return root


def test_report_has_every_section(project):
    report = (project / "results/report.md").read_text()
    for heading in REPORT_HEADINGS:
        assert heading in report
    # The CPU stand-in (an accelerator, where the machine has one, is not in it).
    assert "The comparison here is a stand-in" in report
    assert "![Speedup against parameters](crossover.png)" in report
    # One table row per scale: both devices' median windows and a speedup with its
    # interval.
    assert re.search(
        r"\| 1 \| 90,902 \| .*(?:µs|ms).* \| \d+\.\d\dx \[\d+\.\d\d, \d+\.\d\d\]( "
        r"[†‡])* \| 6 \(2\) \|",
        report,
    )
    assert "| 2 | 361,802 |" in report
    for png in ("crossover.png", "step_time.png"):
        assert (project / "results" / png).read_bytes()[:4] == b"\x89PNG"


def test_each_device_keeps_its_own_files(project):
    for folder in project.glob("results/machines/*/runs/scale*/*/"):
        assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["cpu", "cpu1"]
        for device in ("cpu", "cpu1"):
            names = {p.name for p in (folder / device).iterdir()}
            assert {
                "checkpoint.pt",
                "predictions.pt",
                "steps.csv",
                "timings.csv",
                "inference.csv",
            } <= names
        assert not (folder / ".work").exists()


def test_devices_were_timed_side_by_side_in_several_processes(project):
    timings = read_csv(project / "results/aggregate/timings.csv")
    assert set(zip(timings["scale"], timings["device"])) == {
        (1, "cpu"),
        (1, "cpu1"),
        (2, "cpu"),
        (2, "cpu1"),
    }
    # Interleaved where the machine's BLAS follows torch's thread count window by
    # window; separate where it keeps the count it loaded with (Accelerate on a Mac):
    # as the machine's own plan chose.
    plan = machine_plan(project)
    pairing = planned_pairing(plan)
    assert set(timings["pairing"]) == {pairing}
    # Per scale: 2 processes x 3 rounds, one window per device in each round.
    per_round = timings.groupby(["scale", "process", "round"])["device"].agg(sorted)
    assert len(per_round) == 2 * 2 * 3 and all(d == ["cpu", "cpu1"] for d in per_round)
    # Interleaved, both devices' windows of a round ran inside one process's span;
    # separate, each device's in a process of its own.
    spans = timings.groupby(["scale", "process"])[["started_at", "ended_at"]].nunique()
    assert (spans == (1 if pairing == INTERLEAVED else 2)).all().all()
    assert set(timings.loc[timings["device"] == "cpu1", "threads"]) == {1}
    # "all": the count torch chooses itself (the plan's, from a fresh process).
    threads = plan["environment"]["cpu_threads_all"]
    assert set(timings.loc[timings["device"] == "cpu", "threads"]) == {threads}
    # A process's thread variables are its most threaded device's.
    held = {"cpu1": 1 if pairing == SEPARATE else threads, "cpu": threads}
    for device, rows in timings.groupby("device"):
        assert set(rows["process_threads"]) == {held[device]}, device
    steps = read_csv(project / "results/aggregate/steps.csv")
    per_process = (
        steps.groupby(["run_key", "device", "process"])["kind"].value_counts().unstack()
    )
    assert (per_process["warmup"] == 2).all() and (per_process["switch"] == 3).all()
    assert (per_process["timed"] == 3 * 3).all()
    speedup = read_csv(project / "results/analysis/speedup.csv")
    assert list(speedup["scale"]) == [1, 2] and set(speedup["baseline"]) == {"cpu1"}
    assert (
        (speedup["ci_low"] <= speedup["speedup"])
        & (speedup["speedup"] <= speedup["ci_high"])
    ).all()
    inference = read_csv(project / "results/aggregate/inference.csv")
    assert (
        inference["predictions_equal"].all()
        and (inference["max_abs_diff"] <= 1e-5).all()
    )


def test_same_config_gives_same_data_and_weights_on_the_cpu(project):
    timings = read_csv(project / "results/aggregate/timings.csv")
    assert (timings.groupby("scale")["dataset_sha256"].nunique() == 1).all()
    for folder in project.glob("results/machines/*/runs/scale*/*/"):
        logits = [
            torch.load(folder / d / "predictions.pt", weights_only=True)["logits"]
            for d in ("cpu", "cpu1")
        ]
        torch.testing.assert_close(logits[0], logits[1], rtol=1e-5, atol=1e-6)


def test_timed_jobs_never_overlap(project):
    # Run with --cores 2: still, no two timed regions (timing processes, checks, probes)
    # overlap.
    t = read_csv(project / "results/aggregate/timings.csv").drop_duplicates(
        ["run_key", "process"]
    )
    spans = list(zip(t["started_at"], t["ended_at"]))
    for name in ("inference.csv", "hardware.csv"):
        x = read_csv(project / "results/aggregate" / name)
        spans += list(zip(x["started_at"], x["ended_at"]))
    spans.sort()
    assert len(spans) == 4 + 4 + 2
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert e1 <= s2, f"timed regions overlap: {s1}-{e1} and {s2}-{e2}"
    assert "timed regions overlapped" not in (project / "results/report.md").read_text()


def test_toy_reproduces_the_post(project):
    (toy,) = project.glob("results/toy/*/losses.csv")
    assert [f"{v:.2f}" for v in read_csv(toy)["loss"]] == [
        "0.75",
        "0.65",
        "0.25",
        "0.11",
        "0.06",
        "0.03",
    ]
    assert list(read_csv(toy.parent / "predictions.csv")["predicted"]) == [0, 1]


def test_snakemakes_html_report_holds_both_plots(project, tmp_path):
    html = tmp_path / "report.html"
    snakemake(project, "--report", str(html))
    text = html.read_text()
    for name in ("crossover.png", "step_time.png", "speedup.csv"):
        assert name in text, name
    # The plots are embedded (as data), so the file stands alone.
    assert text.count("data:image/png;base64") >= 2 or len(text) > 200_000


def test_a_dry_run_changes_nothing_on_disk(project):
    before = tree(project)
    snakemake(project, "--dry-run")
    write_config(project, edited(lambda c: c.update(scales=[1, 2, 3])))
    snakemake(project, "--dry-run")
    snakemake(project, "--list-untracked")
    write_config(project, TINY)
    assert tree(project) == before


def edited(change):
    config = copy.deepcopy(TINY)
    change(config)
    return config


def test_caching_follows_the_config(project):
    # Nothing changed: nothing to do.
    assert planned_jobs(project) == []

    # One scale's setting changed: only that scale's timing and check, then the
    # aggregation.
    write_config(
        project, edited(lambda c: c.update(scales=[1, {"scale": 2, "lr": 0.25}]))
    )
    jobs = planned_jobs(project)
    assert rules_run(jobs) == {"time_scale": 1, "check_inference": 1, **AGGREGATION}
    assert all(
        "scale=2" in w for r, w in jobs if r in ("time_scale", "check_inference")
    )

    # Reverted: the earlier runs are reused; no timing.
    write_config(project, TINY)
    assert "time_scale" not in rules_run(planned_jobs(project))

    # Snakemake's metadata deleted: the cache still holds, and the edit is still seen.
    shutil.rmtree(project / ".snakemake")
    assert "time_scale" not in rules_run(planned_jobs(project))
    write_config(
        project, edited(lambda c: c.update(scales=[1, {"scale": 2, "lr": 0.25}]))
    )
    assert rules_run(planned_jobs(project))["time_scale"] == 1

    # A scale added: only the new scale runs (its dataset too).
    write_config(project, edited(lambda c: c.update(scales=[1, 2, 3])))
    jobs = planned_jobs(project)
    assert rules_run(jobs) == {
        "make_dataset": 1,
        "time_scale": 1,
        "check_inference": 1,
        **AGGREGATION,
    }
    assert all(
        "scale=3" in w
        for r, w in jobs
        if r in ("make_dataset", "time_scale", "check_inference")
    )

    # A scale removed, or an analysis setting changed: nothing retrains; the report is
    # rebuilt.
    write_config(project, edited(lambda c: c.update(scales=[1])))
    assert rules_run(planned_jobs(project)) == AGGREGATION
    write_config(project, edited(lambda c: c["analysis"].update(bootstrap=300)))
    assert rules_run(planned_jobs(project)) == AGGREGATION
    write_config(project, TINY)


def plan_key(project):
    report = (project / "results/report.md").read_text()
    return re.search(r"the resolved plan, key `(\w+)`", report).group(1)


def test_switching_back_rebuilds_the_report_even_without_metadata(project):
    first = plan_key(project)
    write_config(project, edited(lambda c: c["analysis"].update(bootstrap=300)))
    snakemake(project, "--cores", "1")
    assert plan_key(project) != first
    shutil.rmtree(project / ".snakemake")
    # back to a plan whose runs all exist, older than the report
    write_config(project, TINY)
    assert rules_run(planned_jobs(project)) == AGGREGATION
    snakemake(project, "--cores", "1")
    assert plan_key(project) == first
    assert planned_jobs(project) == []


def test_another_machines_folder_joins_the_report_without_retraining(project, tmp_path):
    # A second machine, fabricated from this machine's own tiny run: its folder copied
    # under another name, its plan and description rewritten to name it, its times
    # moved (a copy with the same times is refused as a copy).
    (here,) = (project / "results/machines").iterdir()
    there = fabricate_machine(
        project, "other-cpu-2c-cpu-0badcafe", info={"cpu_model": "Other CPU"}
    )
    # Bringing it in reruns the aggregation only: nothing is trained or checked.
    assert rules_run(planned_jobs(project)) == AGGREGATION
    snakemake(project, "--cores", "1")
    report = (project / "results/report.md").read_text()
    assert "## This machine: " in report and "## Machine: Other CPU, 2 cores" in report
    assert report.count("### Speedup table") == 2
    summary = report[report.index("## Result") : report.index("## This machine")]
    assert (
        "| machine | device | against | crossover | at the largest size | plateau |"
        in summary
    )
    assert "| Other CPU, 2 cores, torch " in summary
    speedup = read_csv(project / "results/analysis/speedup.csv")
    assert set(speedup["machine"]) == {here.name, there.name}
    analysis = json.loads((project / "results/analysis/analysis.json").read_text())
    assert machines_of(analysis) == {here.name, there.name}
    shutil.rmtree(there)
    assert rules_run(planned_jobs(project)) == AGGREGATION  # and it can leave again
    snakemake(project, "--cores", "1")


def test_scales_that_cannot_share_memory_fall_back_to_separate_processes(tmp_path):
    sizes = ModelSizes.for_scale(2)
    models = {d: model_footprint(sizes, 10, d) for d in ("cpu1", "cpu")}
    nbytes = data_bytes(sizes, TINY["data"]["n_train"], TINY["data"]["n_test"])
    together, alone = (
        timing_needs(models, nbytes)["host"],
        timing_needs({"cpu": models["cpu"]}, nbytes)["host"],
    )
    assert together > alone > RUNTIME["cpu"]
    # Free memory between the two (with the 10% headroom): scale 2's models cannot share
    # a process.
    assume = {"SWEEP_ASSUME_MEMORY_BYTES": str(int((together + alone) / 2 / 0.9))}
    project = make_project(tmp_path, edited(lambda c: c.update(scales=[2])))
    snakemake(project, "--cores", "1", env=assume)
    timings = read_csv(project / "results/aggregate/timings.csv")
    assert set(timings["pairing"]) == {"separate"}
    # Each process held one device, and the devices' processes alternated: cpu1, cpu,
    # cpu1, cpu.
    procs = timings.drop_duplicates(["device", "process"]).sort_values("started_at")
    assert list(procs["device"]) == ["cpu1", "cpu", "cpu1", "cpu"]
    # Under --cores 1 Snakemake set every thread variable to 1; each process ran
    # with those of its device's plan (a BLAS that reads them at load follows).
    (plan,) = project.glob("results/machines/*/plan.json")
    hardware = json.loads(plan.read_text())["hardware"]
    for device, rows in timings.groupby("device"):
        threads = hardware[device]["device"]["threads"]
        assert set(rows["thread_variables"]) == {
            " ".join(f"{v}={threads}" for v in THREAD_VARIABLES)
        }, device
    report = (project / "results/report.md").read_text()
    assert "† Scale 2: the models did not fit in memory together" in report
    assert re.search(
        r"\| 2 \| 361,802 \| .* \| \d+\.\d\dx \[[\d.]+, [\d.]+\] †( ‡)? \|", report
    )


def level_at_1_faster_at_2(timings: pd.DataFrame) -> pd.DataFrame:
    """The finished runs' windows, made to say: at scale 1 the two devices are
    indistinguishable (each round's ratio alternates 0.9 and 1.1), at scale 2 two
    threads are 1.5x as fast, in every round."""
    base = timings[timings["device"] == "cpu1"].set_index(["scale", "process", "round"])
    cpu = timings["device"] == "cpu"
    keys = list(zip(timings["scale"], timings["process"], timings["round"]))
    ratio = [
        (0.9 if r % 2 else 1.1) if s == 1 else 1.5
        for s, (_, _, r) in zip(timings["scale"], keys)
    ]
    paired = [base.loc[k, "step_median_s"] for k in keys]
    out = timings.copy()
    out.loc[cpu, "step_median_s"] = [t / q for t, q, c in zip(paired, ratio, cpu) if c]
    return out


def test_refinement_adds_a_size_where_the_statement_is_uncertain_and_reruns_nothing(
    project, tmp_path
):
    # The finished sweep's timings made deterministic: level at scale 1, faster from
    # scale 2 on, so the crossing is open below and the rules add the middle of
    # scales 1 and 2. By hand: sqrt(90,902 x 361,802) = 181,352 parameters, scale
    # 1.4145 rounded to 1.41, whose widths 141, 423 and 282 give
    # 141 x 423 + 423 + 423 x 282 + 282 + 282 x 2 + 2 = 180,200 parameters.
    work = tmp_path / "refining"
    shutil.copytree(project, work, symlinks=True)
    for path in work.glob("results/machines/*/runs/scale*/*/cpu*/timings.csv"):
        run = path.parent.parent
        both = pd.concat([read_csv(run / d / "timings.csv") for d in ("cpu1", "cpu")])
        mine = level_at_1_faster_at_2(both)
        mine[mine["device"] == path.parent.name].to_csv(path, index=False)
    refine = {"max_sizes": 1, "max_passes": 1, "max_waves": 0, "seconds": 5.0}
    write_config(work, edited(lambda c: c.update(refine=refine)))
    snakemake(work, "--cores", "1")
    (first,) = work.glob("results/refine/*/after0.json")
    decision = json.loads(first.read_text())
    assert [(a["scale"], a["wave"]) for a in decision["added"]] == [(1.41, 0)]
    assert (
        "indistinguishable below a size and faster from it on"
        in (decision["added"][0]["reason"])
    )
    # The added size was measured and checked like a configured one, and reported.
    timings = read_csv(work / "results/aggregate/timings.csv")
    assert set(timings["scale"]) == {1, 1.41, 2}
    inference = read_csv(work / "results/aggregate/inference.csv")
    assert set(inference["scale"]) == {1, 1.41, 2}
    report = (work / "results/report.md").read_text()
    assert "### Refinement" in report
    assert "Pass 1 adds scale 1.41 (180,200 parameters)" in report
    assert "Refinement stops after pass 1: the most passes, 1, have run." in report
    # Nothing changed: nothing is added and nothing runs.
    assert planned_jobs(work) == []
    snakemake(work, "--cores", "1")
    assert sorted(p.name for p in first.parent.glob("after*.json")) == [
        "after0.json",
        "after1.json",
    ]
