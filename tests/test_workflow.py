"""The real workflow, end to end, on a tiny CPU sweep; then what reruns when the config changes."""

import copy
import re
import shutil

import pandas as pd
import pytest

from workflow_helpers import TINY, planned_jobs, rules_run, write_config

pytestmark = pytest.mark.workflow

AGGREGATION = {"aggregate_timings": 1, "analyse_sweep": 1, "plot_sweep": 1, "write_report": 1, "all": 1}


@pytest.fixture(scope="module")
def project(finished_project, tmp_path_factory):
    """A copy of the finished tiny sweep (dates kept), which these tests may edit."""
    root = tmp_path_factory.mktemp("workflow") / "project"
    shutil.copytree(finished_project, root, symlinks=True)
    return root


def test_report_has_every_section(project):
    report = (project / "results/report.md").read_text()
    for heading in ["## Result", "## Speedup table", "## Why: a cost model", "## The post's table beside ours",
                    "## Inference checks", "## The toy example", "## Environment", "## Runs and their keys", "## Reproduce"]:
        assert heading in report
    assert "No accelerator on this machine" in report
    assert "![Speedup against parameters](crossover.png)" in report
    # One table row per scale, with both devices' medians and a speedup with an interval.
    assert re.search(r"\| 1 \| 90,902 \| .*(?:µs|ms).* \| \d+\.\d\dx \[\d+\.\d\d, \d+\.\d\d\] \|", report)
    assert "| 2 | 361,802 |" in report
    for png in ("crossover.png", "step_time.png"):
        assert (project / "results" / png).read_bytes()[:4] == b"\x89PNG"


def test_tables_are_complete_and_consistent(project):
    timings = pd.read_csv(project / "results/timings.csv")
    assert set(zip(timings["scale"], timings["device"])) == {(1, "cpu"), (1, "cpu1"), (2, "cpu"), (2, "cpu1")}
    assert (timings.groupby("run_key")["repeat"].nunique() == 5).all()
    assert set(timings.loc[timings["device"] == "cpu1", "threads"]) == {1}
    assert set(timings.loc[timings["device"] == "cpu", "threads"]) == {timings["usable_cores"].iloc[0]}
    assert timings["total_extrapolated"].all()
    steps = pd.read_csv(project / "results/steps.csv")
    assert (steps.groupby("run_key").size() == 2 + 5 * 2).all()  # warm-up + repeats x steps
    speedup = pd.read_csv(project / "results/speedup.csv")
    assert list(speedup["scale"]) == [1, 2] and set(speedup["device"]) == {"cpu"} and set(speedup["baseline"]) == {"cpu1"}
    assert ((speedup["ci_low"] <= speedup["speedup"]) & (speedup["speedup"] <= speedup["ci_high"])).all()
    inference = pd.read_csv(project / "results/inference.csv")
    assert inference["predictions_equal"].all() and (inference["max_abs_diff"] <= 1e-5).all()


def test_same_config_gives_same_data_and_weights_on_the_cpu(project):
    timings = pd.read_csv(project / "results/timings.csv")
    # The two devices of a scale train on the same dataset bytes...
    assert (timings.groupby("scale")["dataset_sha256"].nunique() == 1).all()
    # ...and (same seed, CPU) reach the same predictions.
    import torch

    runs = timings.drop_duplicates("run_key")
    for scale, g in runs.groupby("scale"):
        logits = [torch.load(next(project.glob(f"results/runs/scale{scale}/{d}/{k}/predictions.pt")), weights_only=True)["logits"]
                  for d, k in zip(g["device"], g["run_key"])]
        torch.testing.assert_close(logits[0], logits[1], rtol=1e-5, atol=1e-6)


def test_timed_jobs_never_overlap(project):
    spans = []
    for name in ("timings.csv", "inference.csv"):
        t = pd.read_csv(project / "results" / name).drop_duplicates("run_key")
        spans += list(zip(t["started_at"], t["ended_at"]))
    spans.sort()
    assert len(spans) == 8
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert e1 <= s2, f"timed regions overlap: {s1}-{e1} and {s2}-{e2}"


def test_toy_reproduces_the_post(project):
    (toy,) = project.glob("results/toy/*/losses.csv")
    assert [f"{v:.2f}" for v in pd.read_csv(toy)["loss"]] == ["0.75", "0.65", "0.25", "0.11", "0.06", "0.03"]
    assert list(pd.read_csv(toy.parent / "predictions.csv")["predicted"]) == [0, 1]


def edited(change):
    config = copy.deepcopy(TINY)
    change(config)
    return config


def test_caching_follows_the_config(project):
    # Nothing changed: nothing to do.
    assert planned_jobs(project) == []

    # One scale's setting changed: only that scale's runs, then the aggregation.
    write_config(project, edited(lambda c: c.update(scales=[1, {"scale": 2, "lr": 0.25}])))
    jobs = planned_jobs(project)
    assert rules_run(jobs) == {"train_model": 2, "check_inference": 2, **AGGREGATION}
    assert all("scale=2" in w for r, w in jobs if r in ("train_model", "check_inference"))

    # Reverted: the earlier runs are reused; no training.
    write_config(project, TINY)
    assert "train_model" not in rules_run(planned_jobs(project))

    # Snakemake's metadata deleted: the cache still holds, and the edit is still seen.
    shutil.rmtree(project / ".snakemake")
    assert "train_model" not in rules_run(planned_jobs(project))
    write_config(project, edited(lambda c: c.update(scales=[1, {"scale": 2, "lr": 0.25}])))
    assert rules_run(planned_jobs(project))["train_model"] == 2

    # A scale added: only the new scale runs (its dataset too).
    write_config(project, edited(lambda c: c.update(scales=[1, 2, 3])))
    jobs = planned_jobs(project)
    assert rules_run(jobs) == {"make_dataset": 1, "train_model": 2, "check_inference": 2, **AGGREGATION}
    assert all("scale=3" in w for r, w in jobs if r in ("make_dataset", "train_model", "check_inference"))

    # A scale removed: nothing retrains; the report is rebuilt without it.
    write_config(project, edited(lambda c: c.update(scales=[1])))
    assert rules_run(planned_jobs(project)) == AGGREGATION
    write_config(project, TINY)
