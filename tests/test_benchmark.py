"""The benchmark runs on tiny sizes and writes a well-formed report (no timing is
asserted)."""

import json
import re
import subprocess
import sys

from workflow_helpers import ROOT


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
    assert results["fidelity"][0]["ratio"]["median"] > 0
    assert 0 < results["bound"]["fraction"]
    assert set(results["plan"]) == {"5", "10", "20"} and all(
        v > 0 for v in results["aggregate"].values()
    )
    (mem,) = results["memory"]
    assert mem["devices"] == "cpu1+cpu" and mem["peak_bytes"] > mem["weights_bytes"]
