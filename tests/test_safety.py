"""This machine's own runs: a lock is removed only when its owner is provably gone,
a sweep that cannot fit on the disk is refused before it starts, a write that
runs out of space leaves nothing behind, a redone job clears its own stale parts,
a control group's memory limit bounds the plan, and bad settings or files get
messages that name them."""

import copy
import errno
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import check_inference
import psutil
import pytest
import torch

from sweeplib.common import atomic, locks, logs, memory
from sweeplib.common.sizes import ModelSizes
from sweeplib.measure.checkpoint import CheckpointError, save_checkpoint
from sweeplib.measure.model import NeuralNetwork
from sweeplib.plan.runspec import Device
from sweeplib.plan.sweep import PlanError, plan_sweep
from synthetic import facts
from workflow_helpers import SCHEMA, SCRIPTS, TINY

ROOMY = {"host": 2**40, "cuda": 2**40}


# --- locks (item 5) -----------------------------------------------------------------


@pytest.fixture
def live():
    """A live process that is no Snakemake (as a run through Snakemake's API, under a
    wrapper, or of another user, looks to the old scan): its pid."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def locked(folder: Path, record: dict | None) -> Path:
    """A folder with a Snakemake lock and, if given, the record of its owner."""
    (folder / locks.LOCKS).mkdir(parents=True)
    lock = folder / locks.LOCKS / "0.output.lock"
    lock.write_text("results/report.md\n")
    if record is not None:
        (folder / locks.OWNERS).mkdir(parents=True)
        (folder / locks.OWNERS / f"{record['host']}-{record['pid']}.json").write_text(
            json.dumps(record)
        )
    return lock


def test_a_lock_of_a_live_run_the_scan_cannot_see_is_kept(tmp_path, live):
    lock = locked(tmp_path, locks.identity(live))
    removed, why = locks.clear_stale_locks(tmp_path)
    assert removed == [] and lock.exists()
    assert f"pid {live} on this host" in why


def test_a_lock_whose_owner_is_gone_is_removed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    record = locks.identity(proc.pid)
    proc.wait()
    lock = locked(tmp_path, record)
    removed, why = locks.clear_stale_locks(tmp_path)
    assert removed == [lock] and not lock.exists()
    assert f"pid {proc.pid} on this host no longer exists" in why
    assert not list((tmp_path / locks.OWNERS).iterdir())  # the dead record too


def test_a_lock_whose_pid_was_reused_is_removed(tmp_path, live):
    record = {**locks.identity(live), "started": time.time() - 3600}
    lock = locked(tmp_path, record)
    removed, why = locks.clear_stale_locks(tmp_path)
    assert removed == [lock] and "another process now" in why


@pytest.mark.parametrize(
    "change, words",
    [
        ({"host": "node-7"}, "on host node-7, which this run cannot check"),
        ({"pid_namespace": "pid:[1]"}, "another container"),
    ],
    ids=["another host", "another container"],
)
def test_a_lock_held_where_this_run_cannot_look_is_kept(tmp_path, change, words):
    # A pid that exists nowhere here: still, it may run on that host or container.
    record = {**locks.identity(), "pid": 2**22 + 12345, **change}
    lock = locked(tmp_path, record)
    removed, why = locks.clear_stale_locks(tmp_path)
    assert removed == [] and lock.exists() and words in why


def test_a_lock_nobody_recorded_is_kept(tmp_path):
    lock = locked(tmp_path, None)
    removed, why = locks.clear_stale_locks(tmp_path)
    assert removed == [] and lock.exists() and "no run of this workflow" in why


def test_a_run_records_itself_and_its_record_says_who_it_is(tmp_path):
    path = locks.record_owner(tmp_path)
    record = json.loads(path.read_text())
    assert record["host"] == socket.gethostname() and record["pid"] == os.getpid()
    assert record["started"] == pytest.approx(psutil.Process().create_time(), abs=1)
    assert locks.gone(record) == ""
    path.unlink()


# --- disk space (item 8) ------------------------------------------------------------

Usage = namedtuple("Usage", "total used free")


def test_a_sweep_that_cannot_fit_on_the_disk_is_refused_with_both_figures(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)  # nothing measured here yet
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**12, 0, 2**20))
    with pytest.raises(PlanError) as refused:
        plan_sweep(copy.deepcopy(TINY), SCRIPTS, SCHEMA, facts(), ROOMY)
    message = str(refused.value)
    assert "still has to write about" in message and "1.0 MiB free" in message
    needs = float(message.split("about ")[1].split(" MiB")[0])
    # Two scales, two devices: the weights of scale 1 and 2 (4 bytes a parameter).
    assert needs * 2**20 >= 2 * 4 * (90_902 + 361_802)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**12, 0, 10**12))
    assert plan_sweep(copy.deepcopy(TINY), SCRIPTS, SCHEMA, facts(), ROOMY).runs


def full_disk_after(n: int):
    """A write that fails, as a full disk fails it, after ``n`` bytes."""

    def write(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"x" * n)
        raise OSError(errno.ENOSPC, "No space left on device")

    return write


def test_a_write_that_runs_out_of_space_leaves_nothing_and_says_what_it_needed(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(torch, "save", full_disk_after(1000))
    target = tmp_path / "checkpoint.pt"
    with pytest.raises(OSError) as full:
        atomic.torch_save(target, {"w": torch.zeros(2**20)})
    assert full.value.errno == errno.ENOSPC
    assert "checkpoint.pt" in str(full.value) and "needs about 4.0 MiB" in str(
        full.value
    )
    assert "nothing was left behind" in str(full.value)
    assert list(tmp_path.iterdir()) == []


def torch_writer_fails_after(n: int):
    """A write that fails as torch's archive writer fails on a full disk: with a
    RuntimeError, not an OSError (seen with torch 2.13 on a 1 MiB tmpfs)."""

    def write(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"x" * n)
        raise RuntimeError(
            "[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"
        )

    return write


def test_torchs_own_full_disk_error_names_the_space_a_checkpoint_needed(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(torch, "save", torch_writer_fails_after(1000))
    target = tmp_path / "checkpoint.pt"
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**12, 10**12, 0))
    with pytest.raises(OSError) as full:
        atomic.torch_save(target, {"w": torch.zeros(2**20)})
    assert full.value.errno == errno.ENOSPC and "needs about 4.0 MiB" in str(full.value)
    assert list(tmp_path.iterdir()) == []
    # With the space free, the same error is torch's own, passed on as it is.
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**12, 0, 10**12))
    with pytest.raises(RuntimeError, match="unexpected pos"):
        atomic.torch_save(target, {"w": torch.zeros(2**20)})
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_on_a_really_full_disk_says_what_it_needed(tmp_path):
    disk = tmp_path / "tiny"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(disk)]
    if sys.platform != "linux" or subprocess.run(mount, capture_output=True).returncode:
        pytest.skip("mounting a 1 MiB tmpfs needs Linux and the right to mount")
    try:
        with pytest.raises(OSError) as full:
            atomic.torch_save(disk / "checkpoint.pt", {"w": torch.zeros(2**20)})
        assert full.value.errno == errno.ENOSPC
        assert "needs about 4.0 MiB" in str(full.value)
        assert list(disk.iterdir()) == []
    finally:
        # The failed writer still holds its unlinked file until it is collected.
        full = None
        gc.collect()
        subprocess.run(["umount", str(disk)], check=True)


def test_a_redone_job_removes_its_own_stale_parts_and_no_one_elses(tmp_path):
    mine = tmp_path / "cpu/checkpoint.pt"
    mine.parent.mkdir()
    stale = mine.parent / ".checkpoint.pt.k1ll3d.part"
    stale.write_bytes(b"half a checkpoint")
    # Another job's file being written in the same folder (a dataset of another key).
    other = mine.parent / ".other.pt.w0rk1ng.part"
    other.write_bytes(b"in progress")
    with logs.job(str(tmp_path / "time.log"), "time_scale", [str(mine)]):
        pass
    assert not stale.exists() and other.exists()
    assert "left by an interrupted write" in (tmp_path / "time.log").read_text()


# --- memory limits of containers and allocations (item 9) ---------------------------


def cgroup(tmp_path, monkeypatch, proc_line: str, files: dict[str, str]):
    """A control-group tree as Linux shows it, with ``files`` in it."""
    (tmp_path / "proc").write_text(proc_line + "\n")
    for name, text in files.items():
        (tmp_path / "fs" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fs" / name).write_text(text)
    monkeypatch.setattr(memory, "PROC_CGROUP", tmp_path / "proc", raising=False)
    monkeypatch.setattr(memory, "CGROUP_ROOT", tmp_path / "fs", raising=False)


GIB = 2**30


def test_a_cgroup_v2_limit_bounds_the_host_memory(tmp_path, monkeypatch):
    # salloc --mem=2G: the job's group has the limit, its step (ours) none.
    cgroup(
        tmp_path,
        monkeypatch,
        "0::/job_1/step_0",
        {
            "job_1/memory.max": str(2 * GIB),
            "job_1/memory.current": str(GIB // 2),
            "job_1/memory.stat": f"anon 1\ninactive_file {GIB // 4}\n",
            "job_1/step_0/memory.max": "max",
        },
    )
    assert memory.available_host_memory() == 2 * GIB - GIB // 4
    # And the plan takes it: a scale whose models cannot share 1.75 GiB is apart.
    assert memory.available_host_memory() < psutil.virtual_memory().available


def test_a_cgroup_v1_limit_bounds_the_host_memory(tmp_path, monkeypatch):
    # Docker on cgroup v1: the container's group is the mount's root.
    cgroup(
        tmp_path,
        monkeypatch,
        "4:memory:/docker/abc",
        {
            "memory/memory.limit_in_bytes": str(GIB),
            "memory/memory.usage_in_bytes": str(GIB // 8),
        },
    )
    assert memory.available_host_memory() == GIB - GIB // 8


def test_no_cgroup_limit_leaves_the_hosts_own_figure(tmp_path, monkeypatch):
    cgroup(tmp_path, monkeypatch, "0::/", {"memory.max": "max"})
    free = psutil.virtual_memory().available
    assert abs(memory.available_host_memory() - free) < 0.1 * free


def test_the_plan_plans_with_the_cgroup_limit(tmp_path, monkeypatch):
    cgroup(tmp_path, monkeypatch, "0::/", {"memory.max": str(300 * 2**20)})
    monkeypatch.delenv("SWEEP_PLANNED_MEMORY", raising=False)
    plan = plan_sweep(copy.deepcopy(TINY), SCRIPTS, SCHEMA, facts())
    # 300 MiB holds no process with torch (400 MiB): every scale is skipped.
    assert plan.runs == [] and plan.free["host"] <= 300 * 2**20


# --- small ones (item 10) -----------------------------------------------------------


@pytest.mark.parametrize("value", ["lots", "16GB", "-1", "nan", "0"])
def test_a_bad_assumed_memory_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("SWEEP_ASSUME_MEMORY_BYTES", value)
    with pytest.raises(PlanError, match="SWEEP_ASSUME_MEMORY_BYTES") as refused:
        plan_sweep(copy.deepcopy(TINY), SCRIPTS, SCHEMA, facts())
    assert repr(value) in str(refused.value) and "such as 16e9" in str(refused.value)


@pytest.mark.parametrize(
    "content, words",
    [
        (b"not a pickle", "cannot be loaded safely"),
        ({"logits": torch.zeros(3)}, "no logits of shape"),
        ({"logits": torch.zeros(3, 2), "run_key": "other"}, "of run 'other'"),
    ],
    ids=["garbage", "wrong shape", "another run"],
)
def test_a_bad_predictions_file_gets_a_clear_message(tmp_path, content, words):
    sizes = ModelSizes.for_scale(1)
    model = NeuralNetwork(sizes)
    save_checkpoint(
        tmp_path / "checkpoint.pt", model, {"run_key": "k", "scale": 1, "device": "cpu"}
    )
    predictions = tmp_path / "predictions.pt"
    if isinstance(content, bytes):
        predictions.write_bytes(content)
    else:
        torch.save(content, predictions)
    device = Device("cpu", 1, "cpu", "00000000")
    with pytest.raises(CheckpointError) as bad:
        check_inference.check_device(
            device, str(tmp_path / "checkpoint.pt"), str(predictions), {}, 10
        )
    assert str(predictions) in str(bad.value) and words in str(bad.value)


def test_the_pause_hook_never_writes_outside_the_jobs_folder(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    job_folder = tmp_path / "job"
    job_folder.mkdir()
    monkeypatch.setattr(time, "sleep", lambda s: None)
    monkeypatch.setenv(logs.PAUSE_AFTER_OUTPUTS, f"write_report={elsewhere}")
    with pytest.raises(ValueError, match="SWEEP_PAUSE_AFTER_OUTPUTS"):
        with logs.job(str(job_folder / "write_report.log"), "write_report"):
            pass
    assert list(elsewhere.iterdir()) == []
    monkeypatch.setenv(logs.PAUSE_AFTER_OUTPUTS, "write_report")
    with logs.job(str(job_folder / "write_report.log"), "write_report"):
        pass
    assert (job_folder / "write_report.paused").exists()
