"""One timing process as the scale's job starts it: its tables, its memory against the
estimate, and out-of-memory errors that say what ran out."""

import math
import subprocess
import sys

import pytest

from sweeplib.common.atomic import torch_save
from sweeplib.common.devices import THREAD_VARIABLES
from sweeplib.common.memory import RUNTIME
from sweeplib.common.tables import read_csv
from sweeplib.measure import processes as processes_module
from sweeplib.measure import training, worker
from sweeplib.measure.data import make_dataset
from sweeplib.measure.processes import ScaleJob, device_timings, worker_spec
from sweeplib.plan.runspec import Process
from synthetic import run_spec
from workflow_helpers import SCRIPTS


def run_worker(tmp_path, spec, devices, save=False, env=None):
    """A worker in a fresh process, as the scale's job runs it (with ``env`` on top of
    a bare environment)."""
    data = tmp_path / "data.pt"
    if not data.exists():
        torch_save(data, make_dataset(spec.sizes.num_inputs, 1000, 200, seed=0))
    out = tmp_path / f"out-{'+'.join(devices)}"
    paths = {
        d: {
            "checkpoint": str(tmp_path / f"{d}.pt"),
            "predictions": str(tmp_path / f"{d}-logits.pt"),
        }
        for d in devices
    }
    threads = max(spec.device(d).threads for d in devices)
    process = Process(0, tuple(devices), threads)
    told = worker_spec(spec, process, data, out, paths if save else {})
    (tmp_path / "spec.json").write_text(told.to_json())
    subprocess.run(
        [sys.executable, "-m", worker.__name__, str(tmp_path / "spec.json")],
        check=True,
        env={"PYTHONPATH": str(SCRIPTS), "PATH": "/usr/bin:/bin", **(env or {})},
    )
    return read_csv(out / "steps.csv"), read_csv(out / "process.csv")


@pytest.mark.workflow
def test_a_worker_sets_its_thread_variables_before_torch_loads(tmp_path):
    # As Snakemake starts a job under --cores 1: every thread variable at 1. The
    # worker runs a 2-thread device, so it sets them to 2 before importing torch (a
    # BLAS such as Accelerate reads its count once, when it loads).
    snakemakes = {name: "1" for name in THREAD_VARIABLES}
    _, procs = run_worker(tmp_path, run_spec(), ["cpu1", "cpu"], env=snakemakes)
    expected = " ".join(f"{name}=2" for name in THREAD_VARIABLES)
    assert set(procs["thread_variables"]) == {expected}
    assert set(procs["process_threads"]) == {2}
    _, alone = run_worker(tmp_path / "alone", run_spec(), ["cpu1"], env=snakemakes)
    assert set(alone["thread_variables"]) == {expected.replace("=2", "=1")}


def test_processes_hold_every_device_or_alternate_one_each():
    together = [(p.index, p.devices, p.threads) for p in run_spec().processes()]
    assert together == [(0, ("cpu1", "cpu"), 2), (1, ("cpu1", "cpu"), 2)]
    apart = run_spec(pairing="separate").processes()
    assert [(p.index, p.devices, p.threads) for p in apart] == [
        (0, ("cpu1",), 1),
        (0, ("cpu",), 2),
        (1, ("cpu1",), 1),
        (1, ("cpu",), 2),
    ]


@pytest.mark.workflow
def test_a_worker_writes_its_steps_and_what_it_held(tmp_path):
    steps, procs = run_worker(tmp_path, run_spec(), ["cpu1", "cpu"], save=True)
    procs = procs.assign(process_wall_s=3.0)  # the scale's job adds the wall it timed
    assert set(steps["device"]) == {"cpu1", "cpu"} and len(steps) == 2 * (
        1 + 2 * (1 + 2)
    )
    assert list(procs["device"]) == ["cpu1", "cpu"] and procs["eval_s"].gt(0).all()
    assert (tmp_path / "cpu.pt").exists() and (tmp_path / "cpu1-logits.pt").exists()
    table = device_timings(
        steps[steps["device"] == "cpu"].assign(run_key="k", scale=1),
        procs[procs["device"] == "cpu"],
        run_spec(),
        "cpu",
        {"cpu_model": "test"},
    )
    assert list(table["round"]) == [0, 1] and set(table["window_steps"]) == {2}
    assert bool(table["total_extrapolated"].iloc[0])
    # Extrapolated total: warm-up + median timed step x the 99 other steps + one
    # evaluation pass.
    timed = steps[(steps["device"] == "cpu") & (steps["kind"] == "timed")][
        "step_s"
    ].median()
    warm = steps[(steps["device"] == "cpu") & (steps["kind"] == "warmup")][
        "step_s"
    ].sum()
    assert table["total_s"].iloc[0] == pytest.approx(
        warm + 99 * timed + procs["eval_s"].iloc[1]
    )


@pytest.fixture(scope="module")
def wheel_runtime(tmp_path_factory) -> int:
    """Host memory of a timing process with this torch wheel and next to no model:
    the peak of a worker training scale 1 on the CPU (as ``memory.RUNTIME["cpu"]``
    was measured with the CPU wheel). A CUDA wheel maps its CUDA libraries even in a
    process that never uses the GPU, so its runtime is larger."""
    _, procs = run_worker(tmp_path_factory.mktemp("runtime"), run_spec(1), ["cpu"])
    return int(procs["peak_rss_bytes"].iloc[0])


def expected_peak(estimate: float, runtime: int) -> float:
    """The estimate with the CPU wheel's runtime replaced by the installed wheel's."""
    return estimate - RUNTIME["cpu"] + runtime


def test_the_expected_peak_follows_the_wheels_runtime():
    # A CUDA wheel's CPU-only worker (measured at 1.5 GiB, say) at scale 30: the
    # CPU wheel's 400 MiB, not this wheel's runtime, would be 1.1 GiB short.
    estimate = RUNTIME["cpu"] + 700 * 2**20
    assert expected_peak(estimate, 1536 * 2**20) == (1536 + 700) * 2**20


@pytest.mark.workflow
@pytest.mark.parametrize("scale", [10, 30])
@pytest.mark.parametrize(
    "devices", [["cpu"], ["cpu1", "cpu"]], ids=["alone", "together"]
)
def test_memory_estimate_matches_the_measured_peak(
    tmp_path, scale, devices, wheel_runtime
):
    # A fresh process, so its peak RSS (VmHWM) is this process's alone.
    _, procs = run_worker(tmp_path, run_spec(scale), devices)
    peak, estimate = (
        procs["peak_rss_bytes"].iloc[0],
        procs["mem_estimate_bytes"].iloc[0],
    )
    expected = expected_peak(estimate, wheel_runtime)
    assert 0.8 <= peak / expected <= 1.25, (peak, estimate, wheel_runtime)


def test_out_of_memory_names_the_scale_devices_and_estimate():
    error = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate "
        "memory: you tried"
    )
    with pytest.raises(
        MemoryError,
        match=r"scale 1 on cpu1, cpu ran out of memory; the estimate was 0\.\d\d GiB",
    ):
        with training.memory_errors(1, ["cpu1", "cpu"], 5 * 10**8):
            raise error
    # MPS raises a plain RuntimeError.
    mps = RuntimeError(
        "MPS backend out of memory (MPS allocated: 30.00 GB, other allocations: "
        "1.00 GB, max allowed: 36.27 GB). Tried to allocate 6.00 GB on private pool."
    )
    with pytest.raises(MemoryError, match=r"scale 1 on mps ran out of memory; the es"):
        with training.memory_errors(1, ["mps"], 5 * 10**8):
            raise mps
    with pytest.raises(
        RuntimeError, match="something else"
    ):  # other errors pass through unchanged
        with training.memory_errors(1, ["cpu"]):
            raise RuntimeError("something else")


def test_mps_memory_is_labelled_as_what_it_is(monkeypatch):
    # driver_allocated_memory is the current allocation, not a peak; the peak comes
    # from torch.accelerator where torch has it.
    import torch

    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 7.0)
    monkeypatch.setattr(torch.accelerator, "max_memory_allocated", lambda: 9.0)
    assert training.device_memory("mps") == {
        "device_peak_bytes": 9.0,
        "device_end_bytes": 7.0,
    }
    monkeypatch.delattr(torch.accelerator, "max_memory_allocated")
    mps = training.device_memory("mps")
    assert mps["device_end_bytes"] == 7.0 and math.isnan(mps["device_peak_bytes"])
    cpu = training.device_memory("cpu")
    assert math.isnan(cpu["device_peak_bytes"]) and math.isnan(cpu["device_end_bytes"])


def test_a_time_budget_starts_processes_while_one_more_fits(monkeypatch):
    # At least `processes` (2); then another only while the time spent and one more
    # process's mean stay within the budget (10 s).
    job = ScaleJob(run_spec(seconds=10.0), "data.pt", {}, None)
    clock = {"now": 100.0}
    monkeypatch.setattr(processes_module.time, "perf_counter", lambda: clock["now"])
    started = 100.0
    assert job.another_round(0, started) and job.another_round(1, started)
    clock["now"] = 104.0  # 2 processes in 4 s: a third would end at 6 s
    assert job.another_round(2, started)
    clock["now"] = 108.0  # 3 in 8 s: a fourth would end at about 10.7 s
    assert not job.another_round(3, started)
    counted = ScaleJob(run_spec(), "data.pt", {}, None)  # no budget: exactly 2
    assert counted.another_round(1, started) and not counted.another_round(2, started)


def test_a_job_on_a_node_with_another_cpu_refuses_to_time():
    # A cluster job inherits the planned host facts and so the planned keys; timing on
    # another CPU would file its numbers under a machine they are not of.
    from dataclasses import replace

    from sweeplib.measure.processes import OtherHostError, check_host

    spec = run_spec()
    planned = spec.devices[0].hardware
    spec = replace(
        spec, devices=tuple(replace(d, hardware=planned) for d in spec.devices)
    )
    said = []
    check_host(spec, {"cpu_model": planned, "usable_cores": 2}, said.append)
    assert said == []
    check_host(spec, {"cpu_model": planned, "usable_cores": 1}, said.append)
    assert said == [
        "this job may use 1 core, fewer than the 2 threads its devices "
        "were planned with"
    ]
    with pytest.raises(OtherHostError, match="planned for a .* but this job runs on"):
        check_host(spec, {"cpu_model": "Another CPU", "usable_cores": 2}, said.append)
