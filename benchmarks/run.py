"""Measure the harness and the pipeline on this machine; write docs/PERFORMANCE.md.

    python benchmarks/run.py                    # everything but the default sweep
    python benchmarks/run.py --default-sweep    # and the default sweep (13 min)
    python benchmarks/run.py --default-sweep-from DIR  # a default sweep run in DIR
    python benchmarks/run.py --quick --out X.md # a few seconds of each, for tests

Every figure is the median of repeated measurements with its spread, taken in this one
run; nothing is copied from elsewhere.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))  # the tests' scratch projects and runs
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import measure  # noqa: E402
import pipeline  # noqa: E402
import render  # noqa: E402
from sweeplib.common.env import host_environment  # noqa: E402

FULL = {
    "scales": [1, 5, 10],
    "rounds": 10,
    "loader_rounds": 6,
    "steps": 40,
    "bound_scale": 50,
    "bound_steps": 6,
    "copy_mib": 256,
    "memory": [
        (10, ["cpu"]),
        (30, ["cpu"]),
        (10, ["cpu1", "cpu"]),
        (30, ["cpu1", "cpu"]),
    ],
    "plan_sizes": [50, 150, 500],
    "small_sweep": {"scales": [1, 5, 10]},
}
QUICK = {
    "scales": [1],
    "rounds": 2,
    "loader_rounds": 3,
    "steps": 5,
    "bound_scale": 2,
    "bound_steps": 3,
    "copy_mib": 16,
    "memory": [(2, ["cpu1", "cpu"])],
    "plan_sizes": [5, 10, 20],
    "small_sweep": None,
}


def run(p: dict, default_sweep: bool | str, log) -> dict:
    out = {"threads": torch.get_num_threads()}
    log("1. harness fidelity")
    out["fidelity"] = [
        measure.fidelity(s, p["rounds"], p["steps"]) for s in p["scales"]
    ]
    log("2. loaders")
    out["loaders"] = [
        row
        for s in p["scales"]
        for row in measure.loader_axis(s, p["loader_rounds"], p["steps"])
    ]
    log("3. hardware bound")
    out["bound"] = measure.hardware_bound(
        p["bound_scale"], p["bound_steps"], p["copy_mib"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        log("7. memory")
        out["memory"] = [
            measure.memory(
                s, d, str(ROOT / "workflow" / "scripts"), tmp / f"mem{s}{len(d)}"
            )
            for s, d in p["memory"]
        ]
        log("5. pipeline overhead")
        out["startup"] = pipeline.startup_costs(1 if p is QUICK else 5)
        if p["small_sweep"]:
            out["small_sweep"] = pipeline.sweep_overhead(
                tmp / "small", p["small_sweep"]
            )
        if default_sweep:
            finished = Path(default_sweep) if isinstance(default_sweep, str) else None
            log(
                "   the default sweep"
                + (f" run in {finished}" if finished else " (13 min)")
            )
            out["default_sweep"] = pipeline.sweep_overhead(
                tmp / "default", None, noop_repeats=3, finished=finished
            )
        log("6. planning and aggregation at scale")
        out["plan"] = {
            n: pipeline.plan_time(tmp / f"plan{n}", n) for n in p["plan_sizes"]
        }
        out["aggregate"] = {
            n: pipeline.aggregate_time(tmp / f"agg{n}", n) for n in p["plan_sizes"]
        }
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for tests")
    ap.add_argument(
        "--default-sweep",
        action="store_true",
        help="also run the default sweep to measure its costs",
    )
    ap.add_argument(
        "--default-sweep-from",
        metavar="DIR",
        help="measure a default sweep already run from scratch in DIR (a checkout)",
    )
    ap.add_argument("--out", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    args = ap.parse_args(argv)
    started = time.perf_counter()
    results = run(
        QUICK if args.quick else FULL,
        args.default_sweep_from or args.default_sweep,
        log=lambda s: print(s, file=sys.stderr, flush=True),
    )
    command = (
        "python benchmarks/run.py"
        + (" --quick" if args.quick else "")
        + (" --default-sweep" if args.default_sweep else "")
        + (
            " --default-sweep-from DIR"  # DIR: a fresh clone, swept from scratch
            if args.default_sweep_from
            else ""
        )
    )
    text = render.render(
        results, host_environment(), command, time.perf_counter() - started
    )
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(pipeline.dump(results))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
