"""Bad input is refused before any job runs, with a message naming the setting, the
value and what is allowed; renamed settings still work, with a note."""

import copy
import re
import shutil
import sys

import pytest

from sweeplib.common.devices import (
    INTERLEAVED,
    SEPARATE,
    resolve_baseline,
    resolve_devices,
)
from sweeplib.common.keys import digest
from sweeplib.plan.plan_files import manifest
from sweeplib.plan.sweep import PlanError, plan_sweep, refined
from synthetic import facts
from workflow_helpers import (
    ROOT,
    SCHEMA,
    SCRIPTS,
    TINY,
    make_project,
    snakemake,
    tree,
    write_config,
)

CPU_ONLY = facts()
ROOMY = {"host": 2**40}


def plan(config, machine=CPU_ONLY, memory=None):
    return plan_sweep(
        copy.deepcopy(config),
        SCRIPTS,
        SCHEMA,
        facts=machine,
        memory=memory or ROOMY,
    )


def with_(**changes):
    config = copy.deepcopy(TINY)
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = config
        for p in parents:
            node = node.setdefault(p, {})
        node[key] = value
    return config


POSITIVE = "a positive integer"
SCALE = "a positive number with at most two decimals"
# (config, the words the message must contain: setting, value, what is allowed)
BAD = {
    "scale zero": (with_(scales=[1, 0]), ["scales[1]", "0", SCALE]),
    "scale negative": (with_(scales=[-3]), ["scales[0]", "-3", SCALE]),
    "scale with three decimals": (
        with_(scales=[1.255]),
        ["scales[0]", "1.255", SCALE],
    ),
    "scale not a number": (with_(scales=["ten"]), ["scales[0]", "'ten'", SCALE]),
    "scale duplicated": (
        with_(scales=[1, 2, 1]),
        ["scales[2]", "1", "duplicates scales[0]", "each scale once"],
    ),
    "scale duplicated in another spelling": (
        with_(scales=[1, 2, 1.0]),
        ["scales[2]", "1", "duplicates scales[0]"],
    ),
    "scale list empty": (with_(scales=[]), ["scales", "[]", "non-empty list"]),
    "scale entry with bad override": (
        with_(scales=[{"scale": 2, "epochs": 0}]),
        ["scales[0].epochs", "0", POSITIVE],
    ),
    "unknown device": (
        with_(devices=["gpu"]),
        ["devices[0]", "'gpu'", "'cpu', 'cpu1', 'cuda', 'mps'"],
    ),
    "device not available": (
        with_(devices=["cpu", "cuda"]),
        ["devices", "cuda", "not available", "available here: cpu, cpu1"],
    ),
    "baseline unknown": (
        with_(baseline="gpu"),
        ["baseline", "'gpu'", "'auto' or one of 'cpu', 'cpu1'"],
    ),
    "baseline not run": (
        with_(devices=["cpu"], baseline="cpu1"),
        ["baseline", "'cpu1'", "not among the devices run (cpu)"],
    ),
    "epochs zero": (with_(train__epochs=0), ["train.epochs", "0", POSITIVE]),
    "epochs negative": (with_(train__epochs=-1), ["train.epochs", "-1", POSITIVE]),
    "epochs non-integer": (with_(train__epochs=2.5), ["train.epochs", "2.5", POSITIVE]),
    "batch size zero": (
        with_(train__batch_size=0),
        ["train.batch_size", "0", POSITIVE],
    ),
    "batch size larger than the training set": (
        with_(train__batch_size=101),
        ["train.batch_size = 101", "at most data.n_train = 100"],
    ),
    "one scale's batch larger than the training set": (
        with_(scales=[1, {"scale": 2, "batch_size": 500}]),
        ["scales[1].batch_size = 500", "at most data.n_train = 100"],
    ),
    "n_train zero": (with_(data__n_train=0), ["data.n_train", "0", POSITIVE]),
    "n_test negative": (with_(data__n_test=-5), ["data.n_test", "-5", POSITIVE]),
    "processes zero": (with_(timing__processes=0), ["timing.processes", "0", POSITIVE]),
    "rounds zero": (with_(timing__rounds=0), ["timing.rounds", "0", POSITIVE]),
    "rounds non-integer": (
        with_(timing__rounds=2.5),
        ["timing.rounds", "2.5", POSITIVE],
    ),
    "window zero": (
        with_(timing__steps_per_window=0),
        ["timing.steps_per_window", "0", 'a positive integer, or "all"'],
    ),
    "window negative": (
        with_(timing__steps_per_window=-2),
        ["timing.steps_per_window", "-2", '"all"'],
    ),
    "warm-up negative": (
        with_(timing__warmup_steps=-1),
        ["timing.warmup_steps", "-1", ">= 0"],
    ),
    "switch negative": (
        with_(timing__switch_steps=-1),
        ["timing.switch_steps", "-1", ">= 0"],
    ),
    "more rounds than steps": (
        with_(timing__rounds=30, timing__warmup_steps=0, train__epochs=1),
        [
            "scale 1",
            "timing.rounds = 30",
            "timing.warmup_steps = 0",
            "must fit in the 10-step protocol",
        ],
    ),
    "a scale's window too long": (
        with_(scales=[1, {"scale": 2, "steps_per_window": 50}]),
        [
            "scale 2",
            "scales[1].steps_per_window = 50",
            "must fit in the 20-step protocol",
        ],
    ),
    "lr negative": (with_(train__lr=-0.1), ["train.lr", "-0.1", "a positive number"]),
    "lr zero": (with_(train__lr=0), ["train.lr", "0", "a positive number"]),
    "lr as YAML reads 1e-3": (
        with_(train__lr="1e-3"),
        [
            "train.lr",
            "'1e-3'",
            "write the number with a decimal point",
            "a positive number",
        ],
    ),
    "unknown key (typo)": (
        with_(train__epoch=3),
        ["unknown setting train.epoch", "allowed here: epochs"],
    ),
    "unknown top-level key": (
        with_(scale=[1]),
        ["unknown setting scale", "allowed here: scales"],
    ),
    "unknown key in a scale entry": (
        with_(scales=[{"scale": 2, "epoch": 3}]),
        ["unknown setting scales[0].epoch", "epochs"],
    ),
    "loader unknown": (
        with_(train__loader="fast"),
        ["train.loader", "'fast'", "dataloader", "tensor"],
    ),
    "old and new name both set": (
        with_(timing__repeats=4),
        ["timing.repeats and timing.rounds are both set", "keep rounds"],
    ),
    "a batch size listed twice": (
        with_(train__batch_size=[10, 20, 10]),
        [
            "train.batch_size = [10, 20, 10]",
            "lists 10 more than once",
            "each value once",
        ],
    ),
    "a listed batch larger than the training set": (
        with_(train__batch_size=[10, 500]),
        ["train.batch_size = [10, 500] (its 500)", "at most data.n_train = 100"],
    ),
    "a batch size whose protocol is too short for the schedule": (
        with_(train__batch_size=[10, 50]),
        [
            "scale 1 at batch_size 50",
            "must fit in the 4-step protocol",
            "raise train.epochs or shorten the schedule",
        ],
    ),
    "a precision listed twice": (
        with_(train__precision=["bfloat16", "bfloat16"]),
        ["train.precision = ['bfloat16', 'bfloat16']", "lists bfloat16 more than once"],
    ),
    "a refinement setting's old name in a scale entry": (
        with_(scales=[1, {"scale": 2, "max_batches": 1}]),
        ["unknown setting scales[1].max_batches", "allowed here: scale"],
    ),
    "a refinement setting under its old and new names": (
        with_(refine__max_batches=1, refine__max_waves=1),
        ["refine.max_batches and refine.max_waves are both set", "keep max_waves"],
    ),
    "a precision that does not exist": (
        with_(train__precision=["float32", "float8"]),
        ["train.precision[1] = 'float8'", "one of 'float32', 'bfloat16'"],
    ),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_config_is_refused_with_a_clear_message(name):
    config, words = BAD[name]
    with pytest.raises(PlanError) as err:
        plan(config)
    for w in words:
        assert w in str(err.value), f"{w!r} missing from: {err.value}"


def test_scales_between_and_below_the_integers_are_planned_and_never_collide():
    p = plan(with_(scales=[0.25, 1.5, 15, 7]))
    runs = {r.scale: r for r in p.runs}
    # Widths 100 s, 300 s and 200 s rounded: scale 1.5 is 150, 450, 300, whose
    # parameters are 150 x 450 + 450 + 450 x 300 + 300 + 300 x 2 + 2 = 203,852.
    assert runs[1.5].spec.params == 203_852
    assert runs[0.25].spec.sizes.hidden1 == 75 and runs[7].spec.params == 4_416_302
    assert runs[1.5].folder.endswith(f"/runs/scale1.5/{runs[1.5].key}")
    assert runs[15].folder.endswith(f"/runs/scale15/{runs[15].key}")
    assert len({r.key for r in p.runs}) == 4 and len({r.folder for r in p.runs}) == 4


def test_good_config_gets_its_defaults():
    p = plan({"scales": [1, {"scale": 2, "lr": 0.1, "rounds": 7}]})
    assert p.devices == ["cpu1", "cpu"] and p.baseline == "cpu1"
    assert p.config["train"]["epochs"] == 10 and p.config["timing"]["processes"] == 3
    lrs = {r.scale: (r.spec.training.lr, r.spec.timing.rounds) for r in p.runs}
    assert lrs == {1: (0.5, 5), 2: (0.1, 7)}


def test_renamed_settings_still_work_with_a_note():
    old = copy.deepcopy(TINY)
    old["timing"] = {
        k: v
        for k, v in old["timing"].items()
        if k not in ("rounds", "steps_per_window")
    }
    old["timing"] |= {"repeats": 3, "steps_per_repeat": 3, "mimic_seed_prints": False}
    old["scales"] = [1, {"scale": 2, "repeats": 3}]
    p = plan(old)
    # the same runs as the new names
    assert [r.key for r in p.runs] == [r.key for r in plan(TINY).runs]
    assert (
        "timing.repeats is deprecated: read as timing.rounds = 3; rename it" in p.notes
    )
    assert (
        "scales[1].repeats is deprecated: read as scales[1].rounds = 3; rename it"
        in p.notes
    )
    assert any(n.startswith("timing.mimic_seed_prints is deprecated") for n in p.notes)


def test_a_setting_under_both_names_is_one_problem_not_two():
    with pytest.raises(PlanError) as refused:
        plan(with_(refine__max_batches=1, refine__max_waves=1))
    problems = str(refused.value).splitlines()[1:]
    assert problems == [
        "  - refine.max_batches and refine.max_waves are both set; max_batches is "
        "the old name of max_waves: keep max_waves"
    ]


def test_refinements_old_batch_names_are_read_as_waves_with_a_note():
    old = copy.deepcopy(TINY)
    old["refine"] = {"max_batches": 1, "batch_if_wider": 1.5}
    p = plan(old)
    assert p.config["refine"]["max_waves"] == 1
    assert p.config["refine"]["wave_if_wider"] == 1.5
    assert "max_batches" not in p.config["refine"]
    assert (
        "refine.max_batches is deprecated: read as refine.max_waves = 1; rename it"
        in p.notes
    )


def test_devices_auto_compares_the_cpu_with_every_accelerator():
    assert resolve_devices("auto", ["cpu", "cpu1", "cuda"]) == ["cpu", "cuda"]
    assert resolve_devices("auto", ["cpu", "cpu1", "mps"]) == ["cpu", "mps"]
    assert resolve_devices("auto", ["cpu", "cpu1"]) == ["cpu1", "cpu"]
    assert resolve_baseline("auto", ["cpu", "cuda"]) == "cpu"
    assert resolve_baseline("auto", ["cpu1", "cpu"]) == "cpu1"
    assert resolve_baseline("cuda", ["cpu", "cuda"]) == "cuda"


GIB = 2**30


def test_models_that_cannot_share_memory_are_timed_in_separate_processes():
    # Scale 50 holds 1.68 GiB of weights and gradients per model: two need about 3.74
    # GiB with the process, one about 2.07 GiB; 90% of 3.5 GiB is 3.15.
    p = plan(with_(scales=[1, 50]), memory={"host": 3.5 * GIB})
    pairing = {r.scale: r.spec.pairing for r in p.runs}
    assert pairing == {1: INTERLEAVED, 50: SEPARATE} and p.skipped == []
    assert {r.scale: r.key for r in p.runs}[1] == {
        r.scale: r.key for r in plan(with_(scales=[1, 50])).runs
    }[1]


def test_a_scale_that_cannot_fit_at_all_is_skipped_with_its_estimate():
    p = plan(with_(scales=[1, 50]), memory={"host": 2 * GIB})
    assert {r.scale for r in p.runs} == {1}
    assert {(s["scale"], s["device"]) for s in p.skipped} == {(50, "cpu"), (50, "cpu1")}
    assert (
        "needs about 2." in p.skipped[0]["reason"]
        and "GiB of host memory, 2.00 GiB available" in p.skipped[0]["reason"]
    )


def test_a_scale_already_measured_keeps_its_results_whatever_memory_is_free(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (run,) = [r for r in plan(with_(scales=[1, 50])).runs if r.scale == 50]
    for d in run.spec.device_names:
        (tmp_path / run.device_folder(d)).mkdir(parents=True)
        (tmp_path / run.device_folder(d) / "timings.csv").write_text("measured\n")
    tight = plan(with_(scales=[1, 50]), memory={"host": 2 * GIB})
    assert {r.scale: r.spec.pairing for r in tight.runs} == {
        1: INTERLEAVED,
        50: INTERLEAVED,
    } and tight.skipped == []


def test_another_machine_gets_other_keys(monkeypatch):
    from sweeplib.plan import sweep as plan_module

    here = plan(TINY)
    real = plan_module.host_environment
    monkeypatch.setattr(
        plan_module, "host_environment", lambda: {**real(), "cpu_model": "Another CPU"}
    )
    monkeypatch.setattr(
        plan_module, "hardware_name", lambda device, facts: "Another CPU"
    )
    there = plan(TINY)
    assert not {r.key for r in here.runs} & {r.key for r in there.runs}


def test_keys_ignore_key_order_and_follow_every_setting():
    a = plan(TINY)
    reordered = dict(reversed(list(copy.deepcopy(TINY).items())))
    assert [r.key for r in plan(reordered).runs] == [r.key for r in a.runs]
    b = plan(with_(train__lr=0.25))
    assert not {r.key for r in a.runs} & {r.key for r in b.runs}
    # lr does not change the data
    assert [r.spec.data.key for r in a.runs] == [r.spec.data.key for r in b.runs]
    c = plan(with_(cpu_threads=1))  # a device's setting reruns its scale
    assert not {r.key for r in a.runs} & {r.key for r in c.runs}
    d = plan(with_(analysis__bootstrap=100))  # the analysis reruns only the aggregation
    assert [r.key for r in d.runs] == [r.key for r in a.runs]
    assert digest(manifest(d)) != digest(manifest(a))


# Through the real command line: the run stops before any job and results/ is untouched.
# Every case above (a device missing on every machine of this platform stands in for an
# unavailable one)...
MISSING = "cuda" if sys.platform == "darwin" else "mps"
CLI_CASES = {name: case for name, case in BAD.items() if name != "device not available"}
CLI_CASES |= {
    "device not available": (
        with_(devices=["cpu", MISSING]),
        [MISSING, "not available", "available here"],
    ),
    # ...and the file itself.
    "lr as text": (
        "scales: [1]\ntrain:\n  lr: 1e-3\n",
        ["train.lr", "'1e-3'", "decimal point"],
    ),
    "not a mapping": ("- 1\n- 2\n", ["config/config.yaml must be a mapping", "list"]),
    "YAML syntax error": (
        "scales: [1, 2\ndevices: auto\n",
        ["config/config.yaml is not valid YAML at line 2"],
    ),
}


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("cli"), TINY)
    (root / "results/machines/elsewhere/runs/scale1/000000000000/cpu").mkdir(
        parents=True
    )
    (
        root / "results/machines/elsewhere/runs/scale1/000000000000/cpu/timings.csv"
    ).write_text("earlier,result\n")
    return root


@pytest.mark.workflow
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


@pytest.mark.workflow
def test_a_config_given_with_configfile_is_checked_too(cli_project):
    write_config(cli_project, TINY)
    (cli_project / "other.yaml").write_text("train:\n  epochs: 0\n")
    out = snakemake(
        cli_project, "--cores", "1", "--configfile", "other.yaml", check=False
    )
    assert (
        out.returncode != 0
        and "train.epochs = 0 is not allowed" in out.stdout + out.stderr
    )


@pytest.mark.workflow
def test_the_docs_quote_snakemakes_own_message_for_a_broken_configfile(cli_project):
    # Snakemake reads --configfile before the workflow does; the docs say which
    # message the user then gets, and this keeps it true.
    readme = (ROOT / "docs" / "TROUBLESHOOTING.md").read_text()
    quoted = re.search(r'message \("([^"]+)"\), which names no file', readme).group(1)
    quoted = " ".join(quoted.split())  # the docs wrap their lines
    write_config(cli_project, TINY)
    (cli_project / "broken.yaml").write_text("scales: [1, 2\n")
    out = snakemake(
        cli_project, "--cores", "1", "--configfile", "broken.yaml", check=False
    )
    assert out.returncode != 0 and quoted in out.stdout + out.stderr


@pytest.mark.workflow
def test_missing_config_file_is_named(cli_project):
    shutil.move(
        cli_project / "config/config.yaml", cli_project / "config/elsewhere.yaml"
    )
    out = snakemake(cli_project, "--cores", "1", check=False)
    assert out.returncode != 0 and "config/config.yaml" in out.stdout + out.stderr


def test_refinement_extends_a_curve_to_a_scale_whose_entry_lists_other_batches():
    # Scale 2 is configured at batch 10 only; refinement may still add scale 2 to the
    # batch-20 curve (say, twice its largest size): it is planned from scale 2's
    # entry with the curve's batch size, never refused while the workflow is read.
    config = with_(
        train__batch_size=[10, 20],
        train__epochs=4,
        refine__enabled=True,
        scales=[0.5, 1, {"scale": 2, "batch_size": 10, "lr": 0.25}],
    )
    planned = plan(config)
    assert {(r.scale, r.spec.training.batch_size) for r in planned.runs} == {
        (0.5, 10),
        (0.5, 20),
        (1, 10),
        (1, 20),
        (2, 10),
    }
    added = {"scale": 2, "wave": 0, "reason": "twice the largest", "cost_s": 5.0}
    added |= {"curve": "batch 20", "batch_size": 20, "precision": "float32"}
    step = {"pass": 0, "added": [added], "stop": None}
    done = {"pass": 1, "added": [], "stop": "settled"}
    grown = refined(planned, {"history": [step, done], "stop": "settled"})
    (run,) = [r for r in grown.runs if r.key not in {r.key for r in planned.runs}]
    assert (run.scale, run.spec.training.batch_size) == (2, 20)
    assert run.spec.training.lr == 0.25  # the entry's own setting
