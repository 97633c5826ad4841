"""Folders brought in from other machines are untrusted: each crafted or damaged
folder (tests/crafted.py) is refused with a note naming it and what is wrong, or,
damaged by missing files only, read for what is there; paths come from the folder,
never from its files; text from it is escaped in the report and plain in the
plots; and the documented way to bring a folder in never overwrites this
machine's results."""

import io
import json
import re
import shutil
import subprocess

import pandas as pd
import pytest
from crafted import build_all, read_in
from report_helpers import POST, build

from sweeplib.analyse import gather
from sweeplib.analyse.analysis import analyse_curves
from sweeplib.common.tables import read_csv
from sweeplib.plan import brought_in
from sweeplib.plan.machines import describe_machine
from sweeplib.report.document import render
from sweeplib.report.isolation import isolated_report
from sweeplib.report.plots import speedup_figure, step_time_figure
from sweeplib.report.sweep import Sweep
from workflow_helpers import ROOT, this_machine


@pytest.fixture(scope="module")
def crafted(finished_project, tmp_path_factory):
    """A copy of the finished tiny sweep with every crafted folder in it: the project,
    this machine's tag, and what was made (crafted.Crafted)."""
    project = tmp_path_factory.mktemp("crafted") / "project"
    shutil.copytree(finished_project, project, symlinks=True)
    return project, this_machine(project), build_all(project)


@pytest.mark.workflow
def test_every_crafted_folder_is_left_out_with_a_note_naming_it(crafted, monkeypatch):
    project, here, made = crafted
    monkeypatch.chdir(project)
    plans, notes, tables = read_in(project, here)
    by_folder = {n["folder"]: n["reason"] for n in notes}
    for name, words in made.refused.items():
        reason = by_folder.get(f"results/machines/{brought_in.printable(name)}")
        assert reason is not None, f"{name!a} was not refused"
        for w in words:
            assert w in reason, f"{name!a}: {w!r} not in {reason!r}"
    # Only this machine, the damaged ones, the honest one and the one with odd names
    # are read.
    assert set(tables["timings"]["machine"]) == {here} | made.read
    # No row came in through a link or a path outside its folder.
    for frame in tables.values():
        assert "secret" not in frame
    assert len(tables["timings"][tables["timings"]["machine"] == here]) == 24


@pytest.mark.workflow
def test_every_note_can_be_written_as_utf8(crafted, monkeypatch):
    project, here, made = crafted
    monkeypatch.chdir(project)
    _, notes, _ = read_in(project, here)
    assert any("not-utf8-\\xff\\xfe" in n["folder"] for n in notes)
    for n in notes:
        (n["folder"] + n["reason"]).encode("utf-8")


@pytest.mark.workflow
def test_what_the_crafted_folders_leave_is_analysed_drawn_and_reported(
    crafted, monkeypatch
):
    # The accepted folders go through every later step, as the workflow runs them.
    project, here, made = crafted
    monkeypatch.chdir(project)
    plans, notes, tables = read_in(project, here)
    manifest = json.loads((project / "results/plan/sweep.json").read_text())
    manifest = {**manifest, "plans": {**manifest["plans"], **plans}}
    cells, table, summary = analyse_curves(
        tables["timings"], tables["inference"], tables["hardware"], manifest
    )
    assert "left_out" not in summary
    assert set(cells["machine"]) == {here} | made.read
    summary = json.loads(json.dumps(summary))
    names = {t: brought_in.printable(t) for t in manifest["plans"]}
    for fig in (
        speedup_figure(cells, table, summary, POST, names),
        step_time_figure(cells, summary, POST, names),
    ):
        fig.savefig(io.BytesIO(), format="png")
    toy = project / "results/toy"
    (key,) = [p.name for p in toy.iterdir()]
    sweep = Sweep(
        manifest,
        cells,
        table,
        summary,
        tables["inference"],
        tables["hardware"],
        tables["timings"],
        *(read_csv(toy / key / f"{n}.csv") for n in ("losses", "evals", "predictions")),
        POST,
        "abc123def456",
        left_out=pd.DataFrame(notes, columns=["folder", "reason"]),
    )
    _, text = isolated_report(sweep, render)
    text.encode("utf-8")
    assert text.count("\n## Machine: ") == len(made.accepted)
    assert "## Folders left out" in text


@pytest.mark.workflow
def test_paths_come_from_the_folder_never_from_its_plan(crafted, monkeypatch):
    project, here, _ = crafted
    monkeypatch.chdir(project)
    plan = json.loads((project / f"results/machines/{here}/plan.json").read_text())
    for run in plan["runs"]:
        run["folder"] = f"/etc/../results/machines/{here}/../../.."
    for h in plan["hardware"].values():
        h["file"] = "/etc/passwd"
    derived = brought_in.derived_paths("another-00000001", plan)
    assert {r["folder"].split("/runs/")[0] for r in derived["runs"]} == {
        "results/machines/another-00000001"
    }
    assert all(
        h["file"].startswith("results/machines/another-00000001/hardware/")
        for h in derived["hardware"].values()
    )
    # The files of this machine's folder are this machine's only.
    assert brought_in.run_files("another-00000001", derived, "timings.csv") == []
    assert len(brought_in.run_files(here, plan, "timings.csv")) == 4


@pytest.mark.workflow
def test_a_machines_own_rows_must_be_what_their_path_says(crafted, monkeypatch):
    project, here, _ = crafted
    monkeypatch.chdir(project)
    with pytest.raises(gather.Bad, match="not a path this workflow writes"):
        gather.where(f"results/machines/{here}/../{here}/plan.json")
    with pytest.raises(gather.Bad, match="not a path this workflow writes"):
        gather.where("/etc/passwd")


def test_machines_with_different_gpus_of_one_name_get_different_folders():
    # Two M2 Max: one with a 30-core GPU, one with 38; and two H100 of other memory.
    env = {"cpu_model": "Apple M2 Max", "usable_cores": 12, "torch": "2.13.0"}

    def tag(**gpu):
        facts = {"accelerators": {gpu.pop("device"): gpu}}
        return describe_machine(env, facts)[0]

    assert tag(device="mps", name="Apple M2 Max", gpu_cores=30) != tag(
        device="mps", name="Apple M2 Max", gpu_cores=38
    )
    h100 = {"device": "cuda", "name": "NVIDIA H100", "capability": "9.0"}
    assert tag(**h100, total_bytes=80 * 2**30) != tag(**h100, total_bytes=94 * 2**30)


@pytest.mark.skipif(shutil.which("rsync") is None, reason="needs rsync")
def test_the_documented_copy_never_overwrites_this_machines_folder(tmp_path):
    # The recipe of docs/MACHINES.md, with a local folder for the other machine: one
    # of the same tag (a machine of the same kind) and one of another.
    recipe = re.search(
        r"^(rsync .*) (\S+:\S+) (results/machines/)$",
        (ROOT / "docs/MACHINES.md").read_text(),
        re.M,
    )
    assert recipe, "docs/MACHINES.md has no rsync recipe"
    there, here = tmp_path / "there/results/machines", tmp_path / "here"
    for machine, text in (("same-kind-1", "theirs"), ("other-2", "theirs")):
        (there / machine).mkdir(parents=True)
        (there / machine / "plan.json").write_text(text)
    (here / "results/machines/same-kind-1").mkdir(parents=True)
    (here / "results/machines/same-kind-1/plan.json").write_text("ours")
    command = f"{recipe.group(1)} {there}/ {recipe.group(3)}"
    subprocess.run(command, shell=True, cwd=here, check=True)
    assert (here / "results/machines/same-kind-1/plan.json").read_text() == "ours"
    assert (here / "results/machines/other-2/plan.json").read_text() == "theirs"


# --- text from other machines in the report and the plots ---------------------------

ODD = "evil | <!-- $x^{2 ** [a](b) `c`"


def test_text_from_other_machines_is_escaped_in_the_report():
    text, *_ = build(["cpu", "cuda"], "cpu", others=[(ODD, ["cpu", "mps"], "cpu")])
    assert "<!--" not in text and "<b" not in text
    # The summary table keeps its six columns in the odd machine's row.
    row = next(line for line in text.splitlines() if line.startswith("| evil"))
    header = next(line for line in text.splitlines() if line.startswith("| machine"))
    assert len(re.findall(r"(?<!\\)\|", row)) == header.count("|") == 7, row
    assert "evil \\| &lt;!-- \\$x^{2 \\*\\* \\[a\\](b) \\`c\\` CPU" in text
    assert text.rstrip().endswith(
        "docs/METHOD.md says exactly what is timed and how every figure is computed."
    )


def test_text_from_other_machines_is_plain_in_the_plots():
    _, cells, table, summary, names = build(
        ["cpu", "cuda"], "cpu", others=[("there", ["cpu", "mps"], "cpu")]
    )
    names["there"] = "GPU $\\frac{1$ box"  # mathtext cannot parse this
    fig = speedup_figure(cells, table, summary, POST, names)
    fig.savefig(io.BytesIO(), format="png")  # mathtext would raise here
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(label.startswith("GPU $\\frac{1$ box") for label in labels)


def test_md_text_leaves_plain_names_alone():
    from sweeplib.common.formatting import md_text

    for plain in ("Intel(R) Xeon(R) Processor", "2.13.0+cu128", "OMP_NUM_THREADS=2"):
        assert md_text(plain) == plain
    assert md_text("a\nb\r|c") == "a b \\|c"
