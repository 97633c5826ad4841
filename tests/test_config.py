"""Bad input is refused before any job runs, with a message naming the setting, the value and what is allowed."""

import copy
import shutil
import sys
from pathlib import Path

import pytest

from sweeplib.devices import resolve_baseline, resolve_devices
from sweeplib.plan import PlanError, plan_sweep
from workflow_helpers import ROOT, TINY, make_project, snakemake, write_config

SCRIPTS = ROOT / "workflow" / "scripts"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CPU_ONLY = ["cpu", "cpu1"]


def plan(config, available=CPU_ONLY, memory=None):
    return plan_sweep(copy.deepcopy(config), SCRIPTS, SCHEMA, available=available, memory=memory or {"cpu": 2**40, "cpu1": 2**40})


def with_(**changes):
    config = copy.deepcopy(TINY)
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = config
        for p in parents:
            node = node.setdefault(p, {})
        node[key] = value
    return config


# (config, the words the message must contain: setting, value, what is allowed)
BAD = {
    "scale zero": (with_(scales=[1, 0]), ["scales[1]", "0", "a positive integer"]),
    "scale negative": (with_(scales=[-3]), ["scales[0]", "-3", "a positive integer"]),
    "scale not an integer": (with_(scales=[1.5]), ["scales[0]", "1.5", "a positive integer"]),
    "scale not a number": (with_(scales=["ten"]), ["scales[0]", "'ten'", "a positive integer"]),
    "scale duplicated": (with_(scales=[1, 2, 1]), ["scales[2]", "1", "duplicates scales[0]", "each scale once"]),
    "scale list empty": (with_(scales=[]), ["scales", "[]", "non-empty list"]),
    "scale entry with bad override": (with_(scales=[{"scale": 2, "epochs": 0}]), ["scales[0].epochs", "0", "a positive integer"]),
    "unknown device": (with_(devices=["gpu"]), ["devices[0]", "'gpu'", "'cpu', 'cpu1', 'cuda', 'mps'"]),
    "device not available": (with_(devices=["cpu", "cuda"]), ["devices", "cuda", "not available", "available here: cpu, cpu1"]),
    "baseline not run": (with_(devices=["cpu"], baseline="cpu1"), ["baseline", "'cpu1'", "not among the devices run (cpu)"]),
    "epochs zero": (with_(train__epochs=0), ["train.epochs", "0", "a positive integer"]),
    "epochs negative": (with_(train__epochs=-1), ["train.epochs", "-1", "a positive integer"]),
    "epochs non-integer": (with_(train__epochs=2.5), ["train.epochs", "2.5", "a positive integer"]),
    "batch size zero": (with_(train__batch_size=0), ["train.batch_size", "0", "a positive integer"]),
    "batch size larger than the training set": (with_(train__batch_size=101), ["train.batch_size = 101", "at most data.n_train = 100"]),
    "one scale's batch larger than the training set": (with_(scales=[1, {"scale": 2, "batch_size": 500}]),
                                                       ["scales[1].batch_size = 500", "at most data.n_train = 100"]),
    "n_train zero": (with_(data__n_train=0), ["data.n_train", "0", "a positive integer"]),
    "n_test negative": (with_(data__n_test=-5), ["data.n_test", "-5", "a positive integer"]),
    "repeats zero": (with_(timing__repeats=0), ["timing.repeats", "0", "a positive integer"]),
    "repeats non-integer": (with_(timing__repeats=2.5), ["timing.repeats", "2.5", "a positive integer"]),
    "cap zero": (with_(timing__steps_per_repeat=0), ["timing.steps_per_repeat", "0", 'a positive integer, or "all"']),
    "cap negative": (with_(timing__steps_per_repeat=-2), ["timing.steps_per_repeat", "-2", 'a positive integer, or "all"']),
    "warm-up negative": (with_(timing__warmup_steps=-1), ["timing.warmup_steps", "-1", ">= 0"]),
    "more repeats than steps": (with_(timing__repeats=30, timing__warmup_steps=0, train__epochs=1, data__n_train=100),
                                ["timing.warmup_steps = 0", "timing.repeats = 30", "warmup_steps + repeats <= epochs x batches per epoch"]),
    "lr negative": (with_(train__lr=-0.1), ["train.lr", "-0.1", "a positive number"]),
    "lr zero": (with_(train__lr=0), ["train.lr", "0", "a positive number"]),
    "lr as YAML reads 1e-3": (with_(train__lr="1e-3"), ["train.lr", "'1e-3'", "write the number with a decimal point", "a positive number"]),
    "unknown key (typo)": (with_(train__epoch=3), ["unknown setting train.epoch", "allowed here: epochs"]),
    "unknown top-level key": (with_(scale=[1]), ["unknown setting scale", "allowed here: scales"]),
    "unknown key in a scale entry": (with_(scales=[{"scale": 2, "epoch": 3}]), ["unknown setting scales[0].epoch", "epochs"]),
    "loader unknown": (with_(train__loader="fast"), ["train.loader", "'fast'", "dataloader", "tensor"]),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_config_is_refused_with_a_clear_message(name):
    config, words = BAD[name]
    with pytest.raises(PlanError) as err:
        plan(config)
    for w in words:
        assert w in str(err.value), f"{w!r} missing from: {err.value}"


def test_good_config_gets_its_defaults():
    p = plan({"scales": [1, {"scale": 2, "lr": 0.1}]})
    assert p.devices == ["cpu1", "cpu"] and p.baseline == "cpu1"
    assert p.config["train"]["epochs"] == 10 and p.config["timing"]["repeats"] == 5
    lrs = {r.scale: r.settings["train"]["lr"] for r in p.runs}
    assert lrs == {1: 0.5, 2: 0.1}


def test_devices_auto_compares_the_cpu_with_every_accelerator():
    assert resolve_devices("auto", ["cpu", "cpu1", "cuda"]) == ["cpu", "cuda"]
    assert resolve_devices("auto", ["cpu", "cpu1", "mps"]) == ["cpu", "mps"]
    assert resolve_devices("auto", ["cpu", "cpu1"]) == ["cpu1", "cpu"]
    assert resolve_baseline("auto", ["cpu", "cuda"]) == "cpu"
    assert resolve_baseline("auto", ["cpu1", "cpu"]) == "cpu1"
    assert resolve_baseline("cuda", ["cpu", "cuda"]) == "cuda"


def test_a_run_that_cannot_fit_is_skipped_with_its_estimate():
    p = plan(with_(scales=[1, 50]), memory={"cpu": 2 * 2**30, "cpu1": 2 * 2**30})
    assert {r.scale for r in p.runs} == {1}
    assert {(s["scale"], s["device"]) for s in p.skipped} == {(50, "cpu"), (50, "cpu1")}
    s = p.skipped[0]
    assert s["estimate_bytes"] > 0.9 * s["available_bytes"] and "GiB available" in s["reason"]


def test_a_run_already_measured_is_kept_whatever_memory_is_free(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    roomy = plan(with_(scales=[1, 50]))
    for run in roomy.runs:
        if run.scale == 50:
            (tmp_path / run.folder).mkdir(parents=True)
            (tmp_path / run.folder / "timings.csv").write_text("measured\n")
    tight = plan(with_(scales=[1, 50]), memory={"cpu": 2 * 2**30, "cpu1": 2 * 2**30})
    assert {r.scale for r in tight.runs} == {1, 50} and tight.skipped == []


def test_another_machine_gets_other_keys(monkeypatch):
    import sweeplib.plan as plan_module

    here = plan(TINY)
    real = plan_module.host_environment
    monkeypatch.setattr(plan_module, "host_environment", lambda: {**real(), "cpu_model": "Another CPU"})
    monkeypatch.setattr(plan_module, "accelerator_name", lambda device: "Another CPU")
    there = plan(TINY)
    assert not {r.key for r in here.runs} & {r.key for r in there.runs}
    assert {r.settings["device"]["machine"] for r in here.runs}.isdisjoint({r.settings["device"]["machine"] for r in there.runs})


def test_keys_ignore_key_order_and_follow_every_setting():
    a = plan(TINY)
    reordered = dict(reversed(list(copy.deepcopy(TINY).items())))
    assert [r.key for r in plan(reordered).runs] == [r.key for r in a.runs]
    b = plan(with_(train__lr=0.25))
    assert not {r.key for r in a.runs} & {r.key for r in b.runs}
    assert [r.dataset_key for r in a.runs] == [r.dataset_key for r in b.runs]  # lr does not change the data


# Through the real command line: the run stops before any job and results/ is untouched.
# Every case above (a device missing on every machine of this platform stands in for an unavailable one)...
MISSING = "cuda" if sys.platform == "darwin" else "mps"
CLI_CASES = {name: case for name, case in BAD.items() if name != "device not available"}
CLI_CASES |= {
    "device not available": (with_(devices=["cpu", MISSING]), [MISSING, "not available", "available here"]),
    # ...and the file itself.
    "lr as text": ("scales: [1]\ntrain:\n  lr: 1e-3\n", ["train.lr", "'1e-3'", "decimal point"]),
    "not a mapping": ("- 1\n- 2\n", ["config/config.yaml must be a mapping", "list"]),
    "YAML syntax error": ("scales: [1, 2\ndevices: auto\n", ["config/config.yaml is not valid YAML at line 2"]),
}


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("cli"), TINY)
    (root / "results/runs/scale1/cpu/000000000000").mkdir(parents=True)
    (root / "results/runs/scale1/cpu/000000000000/timings.csv").write_text("earlier,result\n")
    (root / "results/sweep.json").write_text("{}\n")
    return root


def tree(root: Path) -> dict:
    return {p.relative_to(root): (p.stat().st_mtime_ns, p.read_bytes()) for p in (root / "results").rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", CLI_CASES)
def test_snakemake_stops_before_any_job(cli_project, name):
    config, words = CLI_CASES[name]
    write_config(cli_project, config)
    before = tree(cli_project)
    out = snakemake(cli_project, "--cores", "1", check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "Building DAG" not in text and "rule " not in text
    for w in words:
        assert w in text, f"{w!r} missing from: {text}"
    assert tree(cli_project) == before


def test_missing_config_file_is_named(cli_project):
    shutil.move(cli_project / "config/config.yaml", cli_project / "config/elsewhere.yaml")
    out = snakemake(cli_project, "--cores", "1", check=False)
    assert out.returncode != 0 and "config/config.yaml" in out.stdout + out.stderr
