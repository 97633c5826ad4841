"""The prepared proof for a machine with a GPU (benchmarks/accelerator_check.py) runs
here on the CPU with tiny settings, so that it cannot rot before such a machine is
at hand: its summary keeps its form, the CPU's parts pass, and the accelerator's
say they were skipped and why. It starts timing workers: marked ``workflow``."""

import importlib.util
import json
from pathlib import Path

import pytest

from workflow_helpers import ROOT

pytestmark = pytest.mark.workflow

ACCELERATOR_PARTS = {"probe", "sync", "inference", "probes", "oom"}
CPU_PARTS = {
    "worker_small",
    "worker_large",
    "inference_cpu",
    "probes_cpu",
    "oom_cpu",
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> tuple[dict, Path]:
    """The script's summary and output folder after one tiny run, any accelerator
    ignored."""
    path = ROOT / "benchmarks" / "accelerator_check.py"
    spec = importlib.util.spec_from_file_location("accelerator_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("check")
    module.main(["--out", str(out), "--tiny", "--cpu-only"])
    return json.loads((out / "summary.json").read_text()), out


def test_the_summary_has_every_part_with_a_status(checked):
    summary, _ = checked
    assert summary["format"] == "accelerator-check/1"
    assert set(summary["parts"]) == ACCELERATOR_PARTS | CPU_PARTS
    assert {p["status"] for p in summary["parts"].values()} <= {
        "ok",
        "failed",
        "skipped",
    }


def test_the_accelerators_parts_are_skipped_with_a_reason(checked):
    summary, _ = checked
    for name in ACCELERATOR_PARTS:
        part = summary["parts"][name]
        assert part["status"] == "skipped" and part["reason"], name
    assert summary["accelerator"] is None
    assert summary["verdict"].startswith("cpu only")


def test_the_cpus_parts_pass(checked):
    summary, _ = checked
    for name in CPU_PARTS:
        assert summary["parts"][name]["status"] == "ok", summary["parts"][name]
    small = summary["parts"]["worker_small"]["devices"]
    assert {d["trained_steps"] for d in small.values()} == {8}  # 2 + 2 x (1 + 2)


def test_the_verdict_names_every_part(checked):
    summary, out = checked
    text = (out / "verdict.txt").read_text()
    assert all(f"  {name}: " in text for name in summary["parts"])
