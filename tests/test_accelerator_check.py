"""The prepared proof for a machine with a GPU (benchmarks/accelerator_check.py) runs
here on the CPU with tiny settings, so that it cannot rot before such a machine is
at hand: its summary keeps its form, the CPU's parts pass, and the accelerator's
say they were skipped and why. It runs as on that machine, whose Python has only
torch and numpy: in a fresh interpreter in which importing pandas, PyYAML,
Snakemake, jsonschema, Jinja2 or SciPy fails, its timing workers too. It starts
timing workers: marked ``workflow`` (the tests of its pure functions are not)."""

import functools
import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workflow_helpers import ROOT

SCRIPT = ROOT / "benchmarks" / "accelerator_check.py"

# What the device machine's Python lacks; the script and the workers it starts must
# never import them.
ABSENT = ("pandas", "yaml", "snakemake", "jsonschema", "jinja2", "scipy")

ACCELERATOR_PARTS = {"probe", "sync", "inference", "probes", "oom"}
CPU_PARTS = {
    "worker_small",
    "worker_bfloat16",
    "worker_large",
    "inference_cpu",
    "probes_cpu",
    "oom_cpu",
}

# Installed as ``sitecustomize`` on PYTHONPATH: every interpreter started with it
# (the script's, and its workers', which keep PYTHONPATH) finds none of ABSENT, as on
# a machine without them: each finder of ``sys.meta_path`` is wrapped so that it
# finds none of them, so ``import pandas`` raises ModuleNotFoundError and
# ``importlib.util.find_spec("pandas")`` is None (as torch asks of optional
# packages). Which file asked for which is noted in the file named by
# ACCELERATOR_CHECK_BLOCKED.
BLOCKER = textwrap.dedent(
    """
    import os
    import sys

    ABSENT = {absent!r}


    class Absent:
        def __init__(self, finder):
            self.finder = finder

        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] not in ABSENT:
                find = getattr(self.finder, "find_spec", None)
                return find(name, path, target) if find else None
            frame = sys._getframe(1)
            while frame and (
                frame.f_code.co_filename.startswith("<frozen")
                or "importlib" in frame.f_code.co_filename
            ):
                frame = frame.f_back
            where = frame.f_code.co_filename if frame else "?"
            with open(os.environ["ACCELERATOR_CHECK_BLOCKED"], "a") as f:
                f.write(f"{{name}}\\t{{where}}\\n")
            return None

        def __getattr__(self, attr):
            return getattr(self.finder, attr)


    sys.meta_path[:] = [Absent(finder) for finder in sys.meta_path]
    """
).format(absent=ABSENT)


@functools.cache
def load_script():
    """The script as a module, for its pure functions (in the suite's interpreter)."""
    spec = importlib.util.spec_from_file_location("accelerator_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blocked_imports(log: Path) -> list[tuple[str, str]]:
    """(module, importing file) of each import of ABSENT that was refused."""
    if not log.exists():
        return []
    return [tuple(line.split("\t", 1)) for line in log.read_text().splitlines()]


def ours(path: str) -> bool:
    """Whether ``path`` is this repository's code (not an installed package's)."""
    where = Path(path).resolve()
    return any(where.is_relative_to(ROOT / d) for d in ("workflow", "benchmarks"))


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> tuple[dict, Path, list]:
    """The script's summary, output folder and refused imports after one tiny run in
    a fresh interpreter without ABSENT, any accelerator ignored."""
    site = tmp_path_factory.mktemp("site")
    (site / "sitecustomize.py").write_text(BLOCKER)
    log = site / "blocked.tsv"
    out = tmp_path_factory.mktemp("check")
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "ACCELERATOR_CHECK_BLOCKED": str(log),
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--tiny", "--cpu-only"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sitecustomize" not in done.stderr, done.stderr  # the blocker was in place
    return json.loads((out / "summary.json").read_text()), out, blocked_imports(log)


def test_the_blocker_refuses_what_the_device_machine_lacks(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    (tmp_path / "tries.py").write_text(
        "import importlib, importlib.util\n"
        f"for name in {ABSENT!r}:\n"
        "    assert importlib.util.find_spec(name) is None, name\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError:\n"
        "        print(name)\n"
        "import numpy, torch\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "ACCELERATOR_CHECK_BLOCKED": str(tmp_path / "blocked.tsv"),
    }
    done = subprocess.run(
        [sys.executable, str(tmp_path / "tries.py")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "sitecustomize" not in done.stderr, done.stderr
    assert done.stdout.split() == list(ABSENT)
    asked = [m for m, _ in blocked_imports(tmp_path / "blocked.tsv")]
    assert set(asked) == set(ABSENT)


@pytest.mark.workflow
def test_the_script_and_its_workers_need_only_torch_and_numpy(checked):
    *_, blocked = checked
    assert [(m, f) for m, f in blocked if ours(f)] == []


@pytest.mark.workflow
def test_the_summary_has_every_part_with_a_status(checked):
    summary, *_ = checked
    assert summary["format"] == "accelerator-check/1"
    assert set(summary["parts"]) == ACCELERATOR_PARTS | CPU_PARTS
    assert {p["status"] for p in summary["parts"].values()} <= {
        "ok",
        "failed",
        "skipped",
    }


@pytest.mark.workflow
def test_the_accelerators_parts_are_skipped_with_a_reason(checked):
    summary, *_ = checked
    for name in ACCELERATOR_PARTS:
        part = summary["parts"][name]
        assert part["status"] == "skipped" and part["reason"], name
    assert summary["accelerator"] is None
    assert summary["verdict"].startswith("cpu only")


@pytest.mark.workflow
def test_the_cpus_parts_pass(checked):
    summary, *_ = checked
    for name in CPU_PARTS:
        assert summary["parts"][name]["status"] == "ok", summary["parts"][name]
    small = summary["parts"]["worker_small"]["devices"]
    assert {d["trained_steps"] for d in small.values()} == {8}  # 2 + 2 x (1 + 2)
    bfloat16 = summary["parts"]["worker_bfloat16"]
    assert bfloat16["precision"] == "bfloat16"
    assert {d["trained_steps"] for d in bfloat16["devices"].values()} == {8}


@pytest.mark.workflow
def test_the_verdict_names_every_part(checked):
    summary, out, _ = checked
    text = (out / "verdict.txt").read_text()
    assert all(f"  {name}: " in text for name in summary["parts"])


def window(host_s: float, device_s: float) -> dict:
    from sweeplib.analyse.clocks import clock_problem

    return {
        "host_s": host_s,
        "device_s": device_s,
        "problem": clock_problem(host_s, device_s),
    }


def test_the_sync_part_wants_agreement_with_the_sync_and_host_shorter_without():
    sync_problems = load_script().sync_problems
    agree, short = window(0.010, 0.0101), window(0.008, 0.010)
    assert sync_problems([agree] * 3, [short] * 3) == []
    (problem,) = sync_problems([agree, short], [short] * 3)
    assert "1 of 2 windows' clocks disagree (host shorter)" in problem
    (problem,) = sync_problems([agree] * 3, [short, agree])
    assert "1 of 2 windows were not flagged host shorter (None)" in problem
    assert "no device clock" in sync_problems([window(0.01, math.nan)], [short])[0]


@pytest.mark.parametrize(
    "name, device_name, kind",
    [
        ("cuda", "NVIDIA H100 80GB HBM3", "H100"),
        ("cuda", "NVIDIA H100 PCIe", "H100"),
        ("cuda", "NVIDIA H200", "H200"),
        ("cuda", "NVIDIA H200 NVL", "H200"),
        ("cuda", "NVIDIA GH200 480GB", "cuda"),  # not an H200's memory
        ("cuda", "NVIDIA H20", "cuda"),
        ("cuda", "NVIDIA A100-SXM4-80GB", "cuda"),
        ("mps", "Apple MPS", "mps"),
        ("cpu", "", "cpu"),
        ("cpu1", "", "cpu"),
    ],
)
def test_the_probes_ranges_are_an_h100s_or_h200s_only_by_name(name, device_name, kind):
    module = load_script()
    assert module.ranges_for(name, device_name) == (kind, module.RANGES[kind])


def test_the_verdict_is_written_when_the_probe_part_failed():
    module = load_script()
    summary = {
        "verdict": "fail",
        "accelerator": "cuda",
        "wall_s": 12.0,
        "parts": {"probe": module.failed("RuntimeError: no driver")},
    }
    text = module.verdict_text(summary)
    assert "torch unknown, cuda" in text
    assert "  probe: failed: RuntimeError: no driver" in text


class WallEvent:
    """A device clock for the CPU, whose work is done when a call returns: an event
    is reached when it is recorded."""

    def record(self) -> None:
        self.at = time.perf_counter()

    def synchronize(self) -> None:
        pass

    def elapsed_time(self, end: "WallEvent") -> float:
        return (end.at - self.at) * 1000


def test_the_sync_part_times_the_workflows_windows_on_a_device_with_a_clock(
    monkeypatch,
):
    # The accelerator's code path, run on the CPU with a clock of its own: the
    # workflow's Trainer and timed_window, with the synchroniser and without. Nothing
    # is left queued on the CPU, so the clocks agree either way: the positive test
    # passes and the negative control, rightly, finds nothing to flag.
    module = load_script()
    build = module.build_trainer

    def with_clock(*args, **kwargs):
        trainer = build(*args, **kwargs)
        trainer.clock = WallEvent
        return trainer

    monkeypatch.setattr(module, "device_clock", lambda device: WallEvent)
    monkeypatch.setattr(module, "build_trainer", with_clock)
    part = module.sync_part("cpu", module.SETTINGS["tiny"])
    windows = part["with_sync"] + part["without_sync"]
    assert len(windows) == 2 * module.SETTINGS["tiny"]["sync_windows"]
    assert all(w["device_s"] > 0 and w["problem"] is None for w in windows), windows
    assert part["status"] == "failed"
    assert part["reason"].startswith("without a synchronisation 2 of 2 windows")
