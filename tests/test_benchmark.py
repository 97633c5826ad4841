"""The benchmark runs on tiny sizes and writes a well-formed report whose figures are
consistent with each other and with independent counts (no timing is asserted)."""

import json
import re
import subprocess
import sys

import pytest

from sweeplib.common.memory import data_bytes, model_footprint, timing_needs
from sweeplib.common.sizes import ModelSizes
from workflow_helpers import ROOT


@pytest.mark.workflow
def test_quick_benchmark_writes_every_section(tmp_path):
    out = tmp_path / "PERFORMANCE.md"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    text = out.read_text()
    for heading in [
        "## 1. Harness fidelity",
        "## 2. Data loading",
        "## 3. The hardware bound",
        "## 4. Processes and rounds",
        "## 5. Pipeline overhead",
        "## 6. Planning and aggregating",
        "## 7. Memory",
    ]:
        assert heading in text
    assert "python benchmarks/run.py --quick" in text
    # Every loader appears with a ratio to the post's loader, which is 1.00 for the
    # post's own.
    assert re.search(r"\| 1 \| dataloader \| 0 \| .* \| 1\.00 \|", text)
    assert "| 1 | tensor | 0 |" in text and "| 1 | dataloader | 4 |" in text
    results = json.loads(out.with_suffix(".json").read_text())
    # Fidelity: one ratio per round, summarised as a spread.
    (fidelity,) = results["fidelity"]
    ratio = fidelity["ratio"]
    assert ratio["n"] == 2 and ratio["q25"] <= ratio["median"] <= ratio["q75"]
    # The bound at scale 2: its bytes by hand, 24 x 361,802 - 4 x 120,600 = 8,200,848
    # (the first layer's 120,600 parameters take 20 bytes, not 24); the achieved
    # fraction and the step's distance from the bound agree.
    bound = results["bound"]
    assert bound["bytes_per_step"] == 24 * 361_802 - 4 * (200 * 600 + 600)
    assert bound["fraction"] == pytest.approx(bound["achieved_Bps"] / bound["copy_Bps"])
    assert bound["step_over_bound"] * bound["fraction"] == pytest.approx(1)
    # Memory: the estimate is the workflow's own for that process (scale 2, both
    # devices), and the peak holds both models' weights at least.
    (mem,) = results["memory"]
    sizes = ModelSizes.for_scale(2)
    models = {d: model_footprint(sizes, 10, d) for d in ("cpu1", "cpu")}
    expected = timing_needs(models, data_bytes(sizes, 1000, 200))["host"]
    assert mem["devices"] == "cpu1+cpu" and mem["estimate_bytes"] == expected
    assert mem["weights_bytes"] == 2 * 4 * 361_802
    assert mem["peak_bytes"] > mem["weights_bytes"]
    # Planning and aggregation were timed at each size asked for.
    assert set(results["plan"]) == set(results["aggregate"]) == {"5", "10", "20"}
