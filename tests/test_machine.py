"""What the plan learns of the machine, and how: torch is asked in a short-lived
process with no thread variables set (never in Snakemake's own), ``cpu_threads:
all`` is torch's own choice, a BLAS that fixes its threads at load keeps devices
of different thread counts apart, and jobs that plan again inherit the facts."""

import ast
import copy
import json
import os
import subprocess
import sys

import pytest
import yaml

from sweeplib.common import env as env_module
from sweeplib.common import memory as memory_module
from sweeplib.common.devices import (
    INTERLEAVED,
    SEPARATE,
    THREAD_VARIABLES,
    TorchLoadedError,
    all_threads,
    cpu_quota,
    set_thread_variables,
    usable_cores,
)
from sweeplib.common.env import host_environment
from sweeplib.common.memory import CUDA_CONTEXT, RUNTIME, model_footprint, timing_needs
from sweeplib.common.sizes import ModelSizes
from sweeplib.plan import on_parse
from sweeplib.plan import probe as probe_module
from sweeplib.plan import sweep as plan_module
from sweeplib.plan.cluster import run_resources
from sweeplib.plan.probe import INHERITED, blas_of, run_probe
from sweeplib.plan.sweep import PlanError, plan_sweep
from synthetic import facts
from workflow_helpers import ROOT, SCHEMA, SCRIPTS, TINY

ROOMY = {"host": 2**40, "cuda": 2**40}


def plan(config, machine=None, memory=ROOMY):
    return plan_sweep(copy.deepcopy(config), SCRIPTS, SCHEMA, machine, memory)


def with_devices(devices, **more):
    return {**copy.deepcopy(TINY), "devices": devices, **more}


# --- cpu_threads: all ---------------------------------------------------------------


def test_all_threads_on_apple_silicon_are_its_performance_cores():
    # An M2 Max: 8 performance and 4 efficiency cores; torch's default is the 8.
    m2 = {"logical": 12, "physical": 12, "performance": 8, "usable": 12}
    n, why = all_threads(facts(default_threads=8, cpu=m2))
    assert n == 8 and "performance cores" in why and "of 12 cores" in why


def test_all_threads_on_linux_with_smt_are_the_physical_cores():
    smt = {"logical": 32, "physical": 16, "performance": None, "usable": 32}
    n, why = all_threads(facts(default_threads=16, cpu=smt))
    assert n == 16 and "physical cores of 32 logical CPUs" in why


def test_all_threads_are_bounded_by_the_affinity_mask():
    pinned = {"logical": 32, "physical": 16, "performance": None, "usable": 4}
    n, why = all_threads(facts(default_threads=16, cpu=pinned))
    assert n == 4 and "bounded by the 4 CPUs this process may run on" in why


def test_the_cpu_device_runs_with_torchs_own_count_not_every_core():
    m2 = {"logical": 12, "physical": 12, "performance": 8, "usable": 12}
    p = plan(TINY, facts(default_threads=8, cpu=m2))
    threads = {d.name: d.threads for d in p.runs[0].spec.devices}
    assert threads == {"cpu1": 1, "cpu": 8}
    assert "performance cores" in p.environment["cpu_threads_all_source"]


def test_the_probe_asks_a_fresh_torch_with_no_thread_variables(monkeypatch):
    # Snakemake sets these to the job's threads (1 under --cores 1): the probe must
    # not see them. The reference: torch asked in a clean process of its own.
    for name in THREAD_VARIABLES:
        monkeypatch.setenv(name, "1")
    clean = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    reference = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        capture_output=True,
        text=True,
        env=clean,
        check=True,
    )
    found = run_probe()
    assert found["default_threads"] == int(reference.stdout)
    assert found["cpu"]["usable"] == usable_cores()
    assert found["blas"] != "" and found["blas_threading"] in ("per window", "at load")


def test_blas_is_read_from_torchs_build_settings():
    assert blas_of("  - Build settings: BLAS_INFO=accelerate, BUILD_TYPE=Release") == (
        "accelerate"
    )
    assert blas_of("no BLAS here") == "none"


# --- Snakemake's process never imports torch ---------------------------------------


def test_planning_never_imports_torch_in_snakemakes_process(tmp_path):
    # Even where torch is a CUDA build (its version says so here), the plan asks the
    # probe: importing torch in this process, let alone asking CUDA for its free
    # memory, would hold a CUDA context for the whole run.
    script = f"""
import importlib.metadata as m, sys, yaml
real = m.version
m.version = lambda name: "2.13.0+cu128" if name == "torch" else real(name)
sys.path[:0] = [{str(SCRIPTS)!r}]
from sweeplib.plan.sweep import plan_sweep
config = yaml.safe_load(open({str(tmp_path / "c.yaml")!r}))
plan = plan_sweep(config, {str(SCRIPTS)!r}, {str(SCHEMA)!r}, memory={{"host": 2**40}})
assert plan.runs, plan
print("torch imported:", "torch" in sys.modules)
"""
    (tmp_path / "c.yaml").write_text(json.dumps(TINY))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert "torch imported: False" in out.stdout


def test_a_cuda_process_needs_its_context_and_more_host_memory():
    sizes = ModelSizes.for_scale(1)
    models = {d: model_footprint(sizes, 10, d) for d in ("cpu", "cuda")}
    needs = timing_needs(models, 0)
    assert needs["cuda"] == models["cuda"].training + CUDA_CONTEXT
    assert needs["host"] >= RUNTIME["cuda"] > RUNTIME["cpu"]
    cpu_only = timing_needs({"cpu": models["cpu"]}, 0)
    assert cpu_only["host"] < RUNTIME["cuda"] and "cuda" not in cpu_only


def test_a_cluster_job_asks_for_the_host_memory_of_a_cuda_process():
    cuda = plan(with_devices(["cpu", "cuda"]), facts(["cuda"]))
    cpu = plan(TINY, facts())
    mem = [run_resources(p.runs[0].spec, "time")["mem_mb"] for p in (cuda, cpu)]
    assert mem[0] > RUNTIME["cuda"] / 2**20 > mem[1]
    assert run_resources(cuda.runs[0].spec, "time")["gpu"] == 1


# --- a BLAS that fixes its threads when it loads ------------------------------------


def test_devices_of_different_threads_are_kept_apart_where_the_blas_fixes_them():
    accelerate = facts(blas="accelerate", threading="at load")
    apart = plan(TINY, accelerate)  # cpu1 (1 thread) and cpu (2)
    assert {r.spec.pairing for r in apart.runs} == {SEPARATE}
    assert "torch's BLAS (accelerate) keeps the thread count it loaded with" in (
        apart.runs[0].pairing_reason
    )
    # The same threads on every device (the CPU beside MPS): they share a process.
    mps = plan(with_devices(["cpu", "mps"]), facts(["mps"], "accelerate", "at load"))
    assert {r.spec.pairing for r in mps.runs} == {INTERLEAVED}
    # MKL follows torch.set_num_threads window by window.
    assert {r.spec.pairing for r in plan(TINY, facts()).runs} == {INTERLEAVED}


# --- jobs that plan again inherit the main process's facts --------------------------


def test_a_job_that_plans_again_without_the_gpu_plans_the_same_keys(monkeypatch):
    config = with_devices(["cpu", "cuda"])
    main = plan(config, facts(["cuda"]))
    # A job's node that hides the GPUs it did not ask for: its own probe sees none.
    monkeypatch.setattr(probe_module, "run_probe", lambda: facts())
    monkeypatch.delenv(INHERITED, raising=False)
    with pytest.raises(PlanError, match="cuda requested but not available"):
        plan(config)
    monkeypatch.setenv(INHERITED, json.dumps(main.facts))
    again = plan(config)
    assert [r.key for r in again.runs] == [r.key for r in main.runs]
    assert again.machine == main.machine


def test_a_job_on_a_node_with_other_host_facts_plans_the_same_keys(monkeypatch):
    # The main process's plan, handed on as read_workflow hands it; then a job on a
    # node with another CPU, in an srun step with a smaller cpuset.
    main = plan(TINY, facts())
    monkeypatch.setenv(INHERITED, json.dumps(main.facts))
    other = {**host_environment(), "cpu_model": "Another CPU", "usable_cores": 1}
    monkeypatch.setattr(plan_module, "host_environment", lambda: other)
    monkeypatch.setattr(env_module, "cpu_model", lambda: "Another CPU")
    again = plan(TINY)
    assert again.machine == main.machine
    assert [r.key for r in again.runs] == [r.key for r in main.runs]
    tags = [[d.hardware_tag for d in r.spec.devices] for r in again.runs]
    assert tags == [[d.hardware_tag for d in r.spec.devices] for r in main.runs]
    # Without the inherited facts the same node plans other keys.
    monkeypatch.delenv(INHERITED)
    monkeypatch.setattr(probe_module, "run_probe", lambda: facts())
    assert plan(TINY).machine != main.machine


def test_an_accelerator_is_probed_at_its_own_sizes():
    # config/config.yaml: 256 MiB and n = 1024 on the CPU; 1 GiB and n = 4096 on
    # CUDA and MPS, where the CPU's sizes take tens of microseconds.
    config = with_devices(["cpu", "cuda"])
    config["hardware"] = yaml.safe_load((ROOT / "config/config.yaml").read_text())[
        "hardware"
    ]
    probes = plan(config, facts(["cuda"])).hardware
    sizes = {d: (p["copy_mib"], p["matmul_n"]) for d, p in probes.items()}
    assert sizes == {"cpu": (256, 1024), "cuda": (1024, 4096)}


def test_the_main_process_hands_its_facts_to_the_jobs(tmp_path, monkeypatch):
    # What read_workflow exports on a real run's main process is what a job on a
    # node without the GPU needs to plan the same keys.
    monkeypatch.chdir(tmp_path)
    for variable in (INHERITED, on_parse.PLANNED_MEMORY):
        monkeypatch.setenv(variable, "")  # so that teardown removes what is exported
        monkeypatch.delenv(variable)
    monkeypatch.setattr(on_parse, "remembered", lambda: None)
    monkeypatch.setattr(probe_module, "run_probe", lambda: facts(["cuda"]))
    monkeypatch.setattr(on_parse, "runs_jobs", lambda workflow: True)
    monkeypatch.setattr(on_parse, "partial", lambda: True)  # leaves the locks alone
    monkeypatch.setattr(on_parse, "remember", lambda answer: None)
    workflow = type("Workflow", (), {"basedir": str(SCRIPTS.parent.parent)})()
    main = on_parse.read_workflow(with_devices(["cpu", "cuda"]), workflow)
    assert json.loads(os.environ[INHERITED]) == main.facts
    monkeypatch.setattr(probe_module, "run_probe", lambda: facts())
    again = plan(with_devices(["cpu", "cuda"]))
    assert [r.key for r in again.runs] == [r.key for r in main.runs]


# --- a run with nothing to do reuses the last probe's answer ------------------------


def test_the_last_probe_is_reused_only_while_nothing_it_depends_on_changed(
    tmp_path, monkeypatch
):
    saved = tmp_path / "probe.json"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    probe_module.remember(facts(["cuda"]), saved)
    assert probe_module.remembered(saved) == facts(["cuda"])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the GPUs hidden since
    assert probe_module.remembered(saved) is None


def test_a_plan_with_a_run_to_measure_asks_the_probe_afresh(tmp_path, monkeypatch):
    # The remembered answer names a GPU with the free memory of that time: it plans a
    # run with nothing to do, never one still to be measured.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(INHERITED, raising=False)
    asked = []
    monkeypatch.setattr(on_parse, "remembered", lambda: facts())
    monkeypatch.setattr(probe_module, "run_probe", lambda: asked.append(1) or facts())
    base = SCRIPTS.parent
    plan, probed = on_parse.plan_here(copy.deepcopy(TINY), base)
    assert probed and asked == [1]
    for run in plan.runs:
        for d in run.spec.device_names:
            (tmp_path / run.device_folder(d)).mkdir(parents=True)
            (tmp_path / run.device_folder(d) / "timings.csv").write_text("measured\n")
    again, probed = on_parse.plan_here(copy.deepcopy(TINY), base)
    assert not probed and asked == [1]
    assert [r.key for r in again.runs] == [r.key for r in plan.runs]


# --- every job that runs torch sets its thread variables before torch loads ---------


def test_the_helper_sets_the_thread_variables_before_torch_loads():
    # As Snakemake starts a job under --cores 1: every variable at 1. The helper sets
    # them to 2, torch is not loaded yet, and torch loads with 2 threads.
    script = f"""
import os, sys
sys.path[:0] = [{str(SCRIPTS)!r}]
from sweeplib.common.devices import set_thread_variables
set_thread_variables(2)
print("loaded:", "torch" in sys.modules)
print("variables:", sorted({{os.environ[v] for v in {THREAD_VARIABLES!r}}}))
import torch
print("torch threads:", torch.get_num_threads())
"""
    snakemakes = {**os.environ, **{v: "1" for v in THREAD_VARIABLES}}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=snakemakes
    )
    assert out.returncode == 0, out.stderr
    assert "loaded: False" in out.stdout and "variables: ['2']" in out.stdout
    assert "torch threads: 2" in out.stdout


def test_the_helper_refuses_once_torch_is_loaded():
    import torch  # noqa: F401  (loaded, as in this process)

    with pytest.raises(TorchLoadedError, match="after torch was imported"):
        set_thread_variables(2)


def loads_torch(module: str, names: list[str]) -> bool:
    """Whether ``from sweeplib.<module> import <names>`` brings torch in: the module
    imports it at its top, or one of the functions named imports it when called."""
    path = SCRIPTS / "sweeplib" / module.replace(".", "/")
    if path.is_dir():  # a stage: from sweeplib.<stage> import <modules>
        return any(
            loads_torch(f"{module}.{n}", ["*"])
            for n in names
            if (path / f"{n}.py").is_file()
        )
    tree = ast.parse(path.with_suffix(".py").read_text())
    if imports_torch_at_load(tree):
        return True
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    return any(name in defs and imports_torch(defs[name]) for name in names)


def imports_torch_at_load(tree) -> bool:
    """Whether a module imports torch when it is imported (outside its functions)."""
    return any(
        imports_torch(node)
        for node in tree.body
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef))
    )


def imports_torch(node) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Import) and any(
            a.name.split(".")[0] == "torch" for a in n.names
        ):
            return True
        if isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "torch":
            return True
    return False


def runs_torch(tree) -> bool:
    """Whether an entry script imports torch, or a function or module of sweeplib
    that imports it."""
    for node in ast.walk(tree):
        if imports_torch(node):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "sweeplib"
        ):
            module = node.module.partition(".")[2]
            names = [a.name for a in node.names]
            if module and loads_torch(module, names):
                return True
            if not module and any(loads_torch(n, ["*"]) for n in names):
                return True
    return False


def first_call(body, name: str) -> int:
    """The index of the first statement of ``body`` that calls ``name``."""
    return next(
        i
        for i, stmt in enumerate(body)
        if any(
            isinstance(c, ast.Call) and getattr(c.func, "id", None) == name
            for c in ast.walk(stmt)
        )
    )


def test_every_job_that_runs_torch_sets_its_thread_variables_first():
    # Importing the script loads no torch, and its main() sets the variables before
    # any statement that imports something.
    torch_jobs = []
    for script in sorted(SCRIPTS.glob("*.py")):
        tree = ast.parse(script.read_text())
        if not runs_torch(tree):
            continue
        torch_jobs.append(script.stem)
        assert not imports_torch_at_load(tree), script.name
        (main,) = [n for n in tree.body if getattr(n, "name", None) == "main"]
        first_import = next(
            i
            for i, stmt in enumerate(main.body)
            if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(stmt))
        )
        assert first_call(main.body, "set_thread_variables") < first_import, script
        loaded = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path[:0] = [{str(SCRIPTS)!r}]; import {script.stem}; "
                "print('torch' in sys.modules)",
            ],
            capture_output=True,
            text=True,
        )
        assert loaded.stdout.strip() == "False", (script.name, loaded.stderr)
    assert {"measure_hardware", "check_inference"} <= set(torch_jobs)


# --- a container's CPU quota bounds cpu_threads: all --------------------------------


def cgroup_tree(tmp_path, monkeypatch, proc_line: str, files: dict[str, str]):
    """A control-group tree as Linux shows it, with ``files`` in it, on a machine
    whose affinity mask offers 16 CPUs."""
    (tmp_path / "proc").write_text(proc_line + "\n")
    for name, text in files.items():
        (tmp_path / "fs" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fs" / name).write_text(text)
    monkeypatch.setattr(memory_module, "PROC_CGROUP", tmp_path / "proc")
    monkeypatch.setattr(memory_module, "CGROUP_ROOT", tmp_path / "fs")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), False)


def test_a_cgroup_v2_cpu_quota_bounds_the_usable_cores(tmp_path, monkeypatch):
    # docker --cpus=2.5: the container's group (the mount's root) has the quota.
    cgroup_tree(tmp_path, monkeypatch, "0::/", {"cpu.max": "250000 100000\n"})
    assert cpu_quota() == 2.5 and usable_cores() == 3


def test_a_cgroup_v1_cpu_quota_bounds_the_usable_cores(tmp_path, monkeypatch):
    # The job's group has the quota, its step (ours) none: the tightest counts.
    cgroup_tree(
        tmp_path,
        monkeypatch,
        "4:cpu,cpuacct:/job/step",
        {
            "cpu,cpuacct/job/cpu.cfs_quota_us": "400000",
            "cpu,cpuacct/job/cpu.cfs_period_us": "100000",
            "cpu,cpuacct/job/step/cpu.cfs_quota_us": "-1",
            "cpu,cpuacct/job/step/cpu.cfs_period_us": "100000",
        },
    )
    assert cpu_quota() == 4 and usable_cores() == 4


def test_no_cpu_quota_leaves_the_affinity_mask(tmp_path, monkeypatch):
    cgroup_tree(tmp_path, monkeypatch, "0::/", {"cpu.max": "max 100000\n"})
    assert cpu_quota() is None and usable_cores() == 16
    assert host_environment()["cpu_quota"] == "none"


def test_a_small_quota_still_leaves_one_core(tmp_path, monkeypatch):
    cgroup_tree(tmp_path, monkeypatch, "0::/", {"cpu.max": "20000 100000\n"})
    assert usable_cores() == 1


def test_cpu_threads_all_states_the_quota_that_bounds_it(tmp_path, monkeypatch):
    cgroup_tree(tmp_path, monkeypatch, "0::/", {"cpu.max": "250000 100000\n"})
    counts = probe_module.cpu_counts()
    assert counts["usable"] == 3 and counts["quota"] == 2.5
    n, why = all_threads(facts(default_threads=8, cpu=counts))
    assert n == 3 and "its control group's CPU quota, 2.5 CPUs" in why
    assert host_environment()["cpu_quota"].startswith("2.5 CPUs")


# --- the report claims no thread check it cannot make -------------------------------


def test_the_report_claims_no_check_of_torchs_own_thread_count():
    # A window's threads are torch.get_num_threads() read right after
    # torch.set_num_threads(request): equal by construction, so a comparison of the
    # two could never fire on a real run. Even where a table says they differ, the
    # report claims no such check; it compares the thread variables instead.
    from test_report import build

    text, *_ = build(["cpu", "cuda"], "cpu", tamper=lambda w: w.assign(threads=1))
    assert "gave fewer cores than planned" not in text
    assert "planned, ran with" not in text


def test_a_precision_a_device_cannot_run_is_refused_before_any_job():
    # A CUDA device whose probe found no bfloat16 (an older GPU): the plan refuses
    # the config, naming the setting, the value, the device and what is allowed.
    old_gpu = facts(["cuda"])
    old_gpu["accelerators"]["cuda"]["precisions"] = ["float32"]
    config = with_devices(["cpu", "cuda"])
    config["train"] = {**config.get("train", {}), "precision": ["float32", "bfloat16"]}
    with pytest.raises(PlanError) as refused:
        plan(config, old_gpu)
    message = str(refused.value)
    assert "train.precision = 'bfloat16' cannot run on cuda" in message
    assert "allowed: the precisions every device listed in devices runs" in message
    # The CPU runs both, and so does a GPU whose probe found bfloat16.
    new_gpu = facts(["cuda"])
    new_gpu["accelerators"]["cuda"]["precisions"] = ["float32", "bfloat16"]
    runs = plan(config, new_gpu).runs
    assert {r.spec.training.precision for r in runs} == {"float32", "bfloat16"}
    assert len(plan({**config, "devices": ["cpu1", "cpu"]}, facts()).runs) == len(runs)
