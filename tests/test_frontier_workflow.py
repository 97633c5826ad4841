"""The frontier end to end: the small sweep with two batch sizes and two precisions,
then a third batch size added (only its runs run) and one removed (nothing runs)."""

import copy
import json
import os
import re

import pytest

from sweeplib.common.tables import read_csv
from sweeplib.plan.sweep import plan_sweep
from workflow_helpers import (
    AGGREGATION,
    TINY,
    make_project,
    planned_jobs,
    rules_run,
    snakemake,
    write_config,
)

pytestmark = pytest.mark.workflow


def frontier(batch_sizes):
    """The tiny sweep over ``batch_sizes`` x float32 and bfloat16. At batch 50 an
    epoch of its 100 samples is two steps: 8 epochs hold the timing schedule (2 +
    3 x (1 + 3) = 14 steps per device)."""
    config = copy.deepcopy(TINY)
    config["train"] = {
        **config.get("train", {}),
        "epochs": 8,
        "batch_size": batch_sizes,
        "precision": ["float32", "bfloat16"],
    }
    return config


def runs_of(project) -> list[dict]:
    plan = json.loads((project / "results/plan/sweep.json").read_text())
    return plan["plans"][plan["machine"]]["runs"]


def test_the_frontier_runs_end_to_end_and_a_new_batch_size_runs_alone(tmp_path):
    project = make_project(tmp_path / "frontier", frontier([10, 50]))
    out = snakemake(project, "--cores", "1")

    # Every (batch size, precision) is a curve, timed at both scales.
    timings = read_csv(project / "results/aggregate/timings.csv")
    curves = set(zip(timings["batch_size"], timings["precision"], timings["scale"]))
    assert curves == {
        (b, p, s) for b in (10, 50) for p in ("float32", "bfloat16") for s in (1, 2)
    }
    summary = json.loads((project / "results/analysis/analysis.json").read_text())
    assert sorted(
        (c["series"]["batch_size"], c["series"]["precision"])
        for c in summary["curves"].values()
    ) == [(10, "bfloat16"), (10, "float32"), (50, "bfloat16"), (50, "float32")]

    # The report has the frontier: its table, a sentence per precision, both figures.
    report = (project / "results/report.md").read_text()
    section = report.split("## The frontier")[1].split("\n## ")[0]
    assert "| batch size |" in section
    assert "![The crossover against the batch size](frontier.png)" in section
    for png in ("frontier.png", "speedup_map.png"):
        assert (project / "results" / png).stat().st_size > 10_000
    assert "(float32)" in section and "(bfloat16)" in section
    # The run ends with the frontier's sentences.
    assert "What this run found on" in out.stdout + out.stderr
    before = {r["key"] for r in runs_of(project)}

    # A third batch size: only its runs (both scales, both precisions) are timed
    # and checked; its dataset is the scale's, already made. The jobs a dry run
    # plans are exactly the new curve's runs as the plan keys them.
    write_config(project, frontier([10, 50, 25]))
    jobs = planned_jobs(project)
    assert rules_run(jobs) == {"time_scale": 4, "check_inference": 4, **AGGREGATION}
    planned = {
        re.search(r"key=(\w+)", w).group(1) for r, w in jobs if r == "time_scale"
    }
    new = [
        r for r in plan_in(project, frontier([10, 50, 25])).runs if r.key not in before
    ]
    assert {r.key for r in new} == planned
    assert sorted(
        (r.spec.training.batch_size, r.spec.training.precision, r.scale) for r in new
    ) == [(25, p, s) for p in ("bfloat16", "float32") for s in (1, 2)]

    # A batch size removed: nothing is timed again; the report is rebuilt.
    write_config(project, frontier([10]))
    assert rules_run(planned_jobs(project)) == AGGREGATION


def plan_in(project, config):
    """The plan the workflow makes of ``config`` in ``project`` (its results folder
    and its copy of the code, whose digests key the runs)."""
    here = os.getcwd()
    os.chdir(project)
    try:
        return plan_sweep(
            config,
            project / "workflow" / "scripts",
            project / "workflow" / "schemas" / "config.schema.yaml",
        )
    finally:
        os.chdir(here)
