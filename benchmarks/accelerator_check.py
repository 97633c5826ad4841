"""A prepared proof for the first machine with a GPU: one call that checks what the
workflow's figures rest on, in a few minutes, with only torch, numpy and this
repository (no Snakemake, no pandas, no network). docs/ACCELERATORS.md says how to
run it and what it checks.

    python benchmarks/accelerator_check.py --out accelerator-check

It writes ``summary.json`` (every part: ``status`` ok, failed or skipped, with a
``reason`` unless ok, and what it measured) and ``verdict.txt`` to ``--out``.
Without an accelerator, as in the test suite, the CPU parts run and the
accelerator's are reported as skipped, so that the script cannot rot unseen.

Parts:
- ``probe``: torch, the accelerator, its name and memory.
- ``worker_small``, ``worker_large``: the timing worker end to end, as the
  workflow starts it (a fresh interpreter, the thread variables at 1 as Snakemake
  sets them under ``--cores 1``), the CPU against the accelerator at two scales:
  each device's median step, their ratio, the two clocks of every accelerator
  window (``sweeplib.analyse.clocks``), and the steps each device trained.
- ``worker_bfloat16``: the same at the small scale in bfloat16 (autocast, float32
  master weights), where every device runs it (skipped, with why, where one
  cannot).
- ``sync``: the workflow's own timed window (``timing.timed_window``) on a real
  ``Trainer`` on the accelerator, judged by ``clocks.clock_problem``: with the
  device's synchroniser the two clocks must agree (positive test); with one that
  returns at once they must be flagged ``host shorter`` (negative control).
- ``inference``: the accelerator's checkpoint reloaded on the accelerator must
  reproduce the logits recorded after training (``sweeplib.measure.inference``).
- ``probes``: the copy-bandwidth and matmul probes (``sweeplib.measure.hardware``)
  against plausible ranges.
- ``oom``: an allocation far beyond the device's memory must come out as the
  workflow's MemoryError naming the scale, the devices and the estimate.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))

import torch  # noqa: E402

from sweeplib.analyse.clocks import clock_problem  # noqa: E402
from sweeplib.common.atomic import torch_save  # noqa: E402
from sweeplib.common.devices import (  # noqa: E402
    THREAD_VARIABLES,
    available_accelerators,
    precision_problem,
    synchronizer,
    torch_device,
)
from sweeplib.common.sizes import ModelSizes  # noqa: E402
from sweeplib.measure.checkpoint import load_checkpoint, load_predictions  # noqa: E402
from sweeplib.measure.data import load_dataset, make_dataset  # noqa: E402
from sweeplib.measure.hardware import copy_bandwidth, matmul_throughput  # noqa: E402
from sweeplib.measure.inference import InferenceMismatch, check  # noqa: E402
from sweeplib.measure.timing import device_clock, timed_window  # noqa: E402
from sweeplib.measure.training import build_trainer, memory_errors  # noqa: E402
from sweeplib.plan.probe import autocast_works  # noqa: E402
from sweeplib.plan.runspec import (  # noqa: E402
    Dataset,
    Device,
    Process,
    RunSpec,
    Timing,
    Training,
    WorkerSpec,
)

# Settings per size of check: the default fits in 6 minutes on a 16-core machine
# with an H100 or H200; ``tiny`` runs in seconds on a laptop's CPU (the suite's).
SETTINGS = {
    "default": {
        "scales": (1, 50),
        "n_train": 1000,
        "n_test": 200,
        "rounds": 4,
        "steps_per_window": 5,
        "worker_timeout_s": 240,
        "matmul_n": 4096,
        "copy_mib": 512,
        "sync_windows": 3,
    },
    "tiny": {
        "scales": (1, 2),
        "n_train": 200,
        "n_test": 40,
        "rounds": 2,
        "steps_per_window": 2,
        "worker_timeout_s": 120,
        "matmul_n": 128,
        "copy_mib": 8,
        "sync_windows": 2,
    },
}

# Plausible ranges of the probes (bytes/s read plus written by a large copy; float32
# matmul FLOP/s, TF32 off as torch's default is). An H100's HBM3 peaks at 3.35 TB/s
# (SXM), 3.9 TB/s (NVL) or 2.0 TB/s (PCIe), an H200's HBM3e at 4.8 TB/s; their
# float32 peak without tensor cores is 67 (SXM) or 51 (PCIe) TFLOP/s. A copy reaches
# most of the peak, a large matmul most of its. The H100 and H200 ranges apply only
# to a device whose name has "H100" or "H200" as a word of its own (``ranges_for``):
# not a GH200, H20 or H800. Any other device gets its kind's range, which only rules
# out what no device of the kind reaches: a probe that timed nothing.
RANGES = {
    "H100": {"bandwidth_Bps": (1.0e12, 4.0e12), "flops": (2.0e13, 7.0e13)},
    "H200": {"bandwidth_Bps": (2.0e12, 5.0e12), "flops": (2.0e13, 7.0e13)},
    "cuda": {"bandwidth_Bps": (5.0e10, 1.0e13), "flops": (1.0e12, 2.0e14)},
    "mps": {"bandwidth_Bps": (3.0e10, 1.0e12), "flops": (5.0e11, 1.0e14)},
    "cpu": {"bandwidth_Bps": (1.0e9, 2.0e12), "flops": (1.0e8, 5.0e13)},
}


def skipped(reason: str) -> dict:
    return {"status": "skipped", "reason": reason}


def failed(reason: str, **found) -> dict:
    return {"status": "failed", "reason": reason, **found}


def ok(**found) -> dict:
    return {"status": "ok", **found}


def probe(accelerator: str | None) -> dict:
    """What this machine offers."""
    found = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda_build": torch.version.cuda,
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "accelerator": accelerator,
    }
    if accelerator == "cuda":
        props = torch.cuda.get_device_properties(0)
        found |= {
            "device_name": props.name,
            "capability": f"{props.major}.{props.minor}",
            "device_memory_bytes": props.total_memory,
        }
    elif accelerator == "mps":
        found["device_name"] = "Apple MPS"
    if accelerator is None:
        return {**skipped("no CUDA or MPS device: torch sees none here"), **found}
    return ok(**found)


def bfloat16_problem(devices: list[tuple[str, int]], accelerator) -> str | None:
    """Why a device of the check cannot train in bfloat16 here (None: all can), as
    the plan would find it: CUDA where torch says bfloat16 is supported, MPS where a
    small autocast product runs (``plan.probe.autocast_works``), the CPU always."""
    facts = {"accelerators": {}}
    if accelerator == "cuda":
        supported = torch.cuda.is_bf16_supported()
        facts["accelerators"]["cuda"] = {
            "precisions": ["float32", "bfloat16"] if supported else ["float32"]
        }
    elif accelerator == "mps":
        works = autocast_works(torch, "mps")
        facts["accelerators"]["mps"] = {
            "precisions": ["float32", "bfloat16"] if works else ["float32"]
        }
    reasons = [
        f"{name}: {why}"
        for name, _ in devices
        if (why := precision_problem(name, "bfloat16", facts))
    ]
    return "; ".join(reasons) or None


def run_spec(
    scale: float, devices: list[tuple[str, int]], s: dict, precision: str = "float32"
) -> RunSpec:
    """A run of ``scale`` as the plan would make it, small enough for the check, in
    ``precision``."""
    sizes = ModelSizes.for_scale(scale)
    return RunSpec(
        scale=scale,
        sizes=sizes,
        data=Dataset(
            sizes.num_inputs, s["n_train"], s["n_test"], 0, torch.__version__, "check"
        ),
        training=Training(1, 10, 0.05, 123, "tensor", 0, precision),
        timing=Timing(
            processes=1,
            rounds=s["rounds"],
            steps_per_window=s["steps_per_window"],
            warmup_steps=2,
            switch_steps=1,
            order_seed=0,
            accelerator_warmup_s=0.25,
            accelerator_switch_s=0.025,
            mimic_post_prints=False,
        ),
        devices=tuple(Device(n, t, n, n) for n, t in devices),
        pairing="interleaved",
        torch=torch.__version__,
        code="check",
    )


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def run_worker(spec: RunSpec, where: Path, timeout: float) -> tuple[list, list, float]:
    """The worker in a fresh interpreter, with the thread variables at 1 as Snakemake
    sets them; its step and process rows, and its wall time."""
    where.mkdir(parents=True, exist_ok=True)
    data = where / "data.pt"
    d = spec.data
    torch_save(data, make_dataset(d.num_inputs, d.n_train, d.n_test, seed=d.seed))
    out = where / "out"
    save = {
        n: {
            "checkpoint": str(where / f"{n}.pt"),
            "predictions": str(where / f"{n}-logits.pt"),
        }
        for n in spec.device_names
    }
    threads = max(dev.threads for dev in spec.devices)
    told = WorkerSpec(
        spec, Process(0, spec.device_names, threads), str(data), str(out), 0, save
    )
    (where / "spec.json").write_text(told.to_json())
    # The package first, then whatever the caller's PYTHONPATH held (the suite's
    # import blocker too).
    given = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    path = [str(SCRIPTS), *filter(None, given)]
    env = {
        **os.environ,
        **{v: "1" for v in THREAD_VARIABLES},
        "PYTHONPATH": os.pathsep.join(path),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sweeplib.measure.worker", str(where / "spec.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - started
    (where / "worker.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise RuntimeError(f"worker exit {done.returncode}: " + " | ".join(tail))
    return read_rows(out / "steps.csv"), read_rows(out / "process.csv"), wall


def worker_part(
    scale, devices, s: dict, where: Path, accelerator, precision: str = "float32"
) -> dict:
    """Time the worker end to end at ``scale`` in ``precision``: each device's median
    timed step, the ratio to the first device, the two clocks of each window, the
    trained steps."""
    spec = run_spec(scale, devices, s, precision)
    steps, procs, wall = run_worker(spec, where, s["worker_timeout_s"])
    out = {
        "scale": scale,
        "precision": precision,
        "params": spec.params,
        "worker_wall_s": wall,
        # What the worker set them to, from the 1 it was started with.
        "thread_variables": procs[0]["thread_variables"],
        "devices": {},
    }
    problems = []
    for name, _ in devices:
        mine = [r for r in steps if r["device"] == name]
        timed = [number(r["step_s"]) for r in mine if r["kind"] == "timed"]
        windows = {}
        for r in mine:
            if r["kind"] == "timed":
                windows[r["round"]] = (
                    number(r["host_window_s"]),
                    number(r["device_window_s"]),
                )
        clocks = [
            {"round": k, "host_s": h, "device_s": dv, "problem": clock_problem(h, dv)}
            for k, (h, dv) in sorted(windows.items())
        ]
        (proc,) = [p for p in procs if p["device"] == name]
        trained = int(number(proc["trained_steps"]))
        out["devices"][name] = {
            "step_median_s": statistics.median(timed),
            "timed_steps": len(timed),
            "rehearsals": sum(r["trains"] == "False" for r in mine),
            "trained_steps": trained,
            "final_accuracy": number(proc.get("final_accuracy")),
            "windows": clocks,
        }
        problems += [
            f"{name} round {c['round']}: {c['problem']}" for c in clocks if c["problem"]
        ]
    base, *others = [n for n, _ in devices]
    for name in others:
        mine = out["devices"][name]
        mine["speedup"] = out["devices"][base]["step_median_s"] / mine["step_median_s"]
    counts = {n: d["trained_steps"] for n, d in out["devices"].items()}
    if len(set(counts.values())) != 1:
        problems.append(f"devices trained different numbers of steps: {counts}")
    if accelerator:
        with_clock = [
            c
            for c in out["devices"][accelerator]["windows"]
            if math.isfinite(c["device_s"])
        ]
        if not with_clock:
            problems.append(f"no window of {accelerator} had a device clock")
    return failed("; ".join(problems), **out) if problems else ok(**out)


def sync_part(accelerator: str | None, s: dict) -> dict:
    """The workflow's own window (``timing.timed_window``) on a real ``Trainer`` on the
    accelerator, as ``build_trainer`` makes it for the worker, judged by
    ``clocks.clock_problem``: with the device's synchroniser every window's clocks
    must agree (positive test); with a synchroniser that returns at once, the last
    step's work is left out of the host's window and every window must be flagged
    ``host shorter`` (negative control)."""
    if accelerator is None:
        return skipped(
            "no accelerator: on the CPU a kernel has finished when it returns, and "
            "there is no device clock"
        )
    device = torch_device(accelerator)
    if device_clock(device) is None:
        return skipped(f"this torch has no timing events for {accelerator}")
    # The large scale (50 by default: 2.25e8 parameters, 5.1 GB of weights and
    # gradients moved per step at batch 10) keeps the device busy for about 1.5 to
    # 2.6 ms a step on an H100 (3.35 TB/s SXM to 2.0 TB/s PCIe), over 1 ms on an
    # H200 (4.8 TB/s): estimates from the bandwidth, well above the few tenths of a
    # millisecond the host takes to launch a step's twenty-odd kernels. The device
    # falls behind, so a step's work is still queued when a synchroniser that does
    # not wait returns, and the host's window misses about the last step's work
    # less its launch: some 15 to 20% of a window of ``steps_per_window`` (5), three
    # times the clocks' relative margin (5%) and several times their absolute one
    # (0.1 ms). With ``--tiny`` (scale 2) a GPU's step is too short for the
    # negative control: those settings are for the CPU.
    scale, steps = s["scales"][1], s["steps_per_window"]
    sizes = ModelSizes.for_scale(scale)
    data = make_dataset(sizes.num_inputs, s["n_train"], s["n_test"], seed=0)
    threads = torch.get_num_threads()
    trainer = build_trainer(
        accelerator,
        threads,
        sizes,
        Training(1, 10, 0.05, 123, "tensor", 0),
        data,
        build_threads=threads,
    )
    trainer.activate()
    for _ in range(3):  # lazy initialisation, first touch of the gradients
        trainer.step()
    waits = trainer.sync

    def windows(sync) -> list[dict]:
        trainer.sync = sync
        try:
            found = [
                timed_window(trainer, steps, lambda record: None)
                for _ in range(s["sync_windows"])
            ]
        finally:
            trainer.sync = waits
            waits()
        return [
            {
                "host_s": w["host_window_s"],
                "device_s": w["device_window_s"],
                "problem": clock_problem(w["host_window_s"], w["device_window_s"]),
            }
            for w in found
        ]

    found = {
        "scale": scale,
        "params": sizes.num_params,
        "steps_per_window": steps,
        "with_sync": windows(waits),
        "without_sync": windows(lambda: None),
    }
    problems = sync_problems(found["with_sync"], found["without_sync"])
    return failed("; ".join(problems), **found) if problems else ok(**found)


def sync_problems(with_sync: list[dict], without_sync: list[dict]) -> list[str]:
    """What is wrong with the ``sync`` part's windows (``host_s``, ``device_s`` and
    ``problem`` each): every window must have a device clock; those with the
    device's synchroniser no problem, those without ``host shorter``."""
    problems = []
    if not all(math.isfinite(w["device_s"]) for w in with_sync + without_sync):
        problems.append("a window had no device clock")
    bad = [w["problem"] for w in with_sync if w["problem"] is not None]
    if bad:
        problems.append(
            f"with the synchroniser {len(bad)} of {len(with_sync)} windows' clocks "
            f"disagree ({', '.join(bad)})"
        )
    missed = [w["problem"] for w in without_sync if w["problem"] != "host shorter"]
    if missed:
        problems.append(
            f"without a synchronisation {len(missed)} of {len(without_sync)} windows "
            f"were not flagged host shorter ({', '.join(map(str, missed))}): the "
            "device clock did not see the work left queued, or a step's work is under "
            "the margin"
        )
    return problems


def inference_part(accelerator: str | None, where: Path) -> dict:
    """A device's checkpoint, reloaded on that device, against the logits recorded
    after its training (the CPU's too, so that the part runs in the suite)."""
    if accelerator is None:
        return skipped("no accelerator")
    ckpt = where / f"{accelerator}.pt"
    if not ckpt.exists():
        return failed(f"no checkpoint {ckpt}: the worker part did not save one")
    device = torch_device(accelerator)
    model, meta = load_checkpoint(ckpt, device)
    reference = load_predictions(where / f"{accelerator}-logits.pt", meta["run_key"])
    data = load_dataset(where / "data.pt")
    try:
        found = check(
            model, data, reference, 10, device, synchronizer(accelerator), "check"
        )
    except InferenceMismatch as exc:
        return failed(str(exc))
    return ok(trained_steps=meta.get("trained_steps"), **found)


def probes_part(name: str, s: dict, device_name: str) -> dict:
    """The copy and matmul probes on ``name`` against the plausible ranges."""
    device, sync = torch_device(name), synchronizer(name)
    copy = copy_bandwidth(device, sync, s["copy_mib"], 3, 0.05)
    matmul = matmul_throughput(device, sync, s["matmul_n"], 3, 0.05)
    kind, ranges = ranges_for(name, device_name)
    found = {"ranges_of": kind, **copy, **matmul}
    problems = [
        f"{key} {found[key]:.3g} outside {lo:.3g} to {hi:.3g}"
        for key, (lo, hi) in ranges.items()
        if not lo <= found[key] <= hi
    ]
    return failed("; ".join(problems), **found) if problems else ok(**found)


def ranges_for(name: str, device_name: str) -> tuple[str, dict]:
    """Which of ``RANGES`` applies to the device ``name`` (cuda, mps, cpu, cpu1) whose
    full name is ``device_name``: an H100's or H200's only where "H100" or "H200" is a
    word of the name ("NVIDIA H100 80GB HBM3", "NVIDIA H200 NVL"; not "NVIDIA GH200
    480GB"), else the device kind's."""
    words = set(re.findall(r"[A-Za-z0-9]+", device_name.upper()))
    kind = next((k for k in ("H100", "H200") if k in words), name.rstrip("1"))
    return kind, RANGES[kind]


def oom_part(name: str) -> dict:
    """An allocation of twice the device's memory (a PiB on the CPU, which refuses it
    at once), made inside the workflow's handler: it must come out as a MemoryError
    naming the scale, the devices and the estimate."""
    estimate = 3 * 2**30
    size = 2**50
    if name == "cuda":
        size = 2 * torch.cuda.get_device_properties(0).total_memory
    elif name == "mps":
        size = 2 * torch.mps.recommended_max_memory()
    try:
        with memory_errors(7, [name], estimate):
            torch.empty(size, dtype=torch.uint8, device=torch_device(name))
    except MemoryError as exc:
        text = str(exc)
        wanted = [f"scale 7 on {name}", "ran out of memory", "3.00 GiB"]
        missing = [w for w in wanted if w not in text]
        if missing:
            return failed(f"the message lacks {missing}", message=text)
        return ok(message=text)
    except Exception as exc:  # noqa: BLE001 - any other error is the finding
        return failed(f"{type(exc).__name__} instead of MemoryError: {exc}")
    return failed(f"an allocation of {size} bytes succeeded")


def guarded(fn, *args) -> dict:
    """A part's result, or its error as a failure: one part's crash must not hide
    the others' findings."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        return failed(
            f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc().splitlines()[-6:],
        )


def plain(value):
    """``value`` with NaN and infinities as None: strict JSON, as other tools read."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def verdict_text(summary: dict) -> str:
    """One line for the verdict, one per part. Read with defaults: the probe part may
    have failed before it found torch's version."""
    torch_version = summary.get("torch") or "unknown"
    lines = [
        f"accelerator check: {summary['verdict']} "
        f"({summary['wall_s']:.0f} s, torch {torch_version}, "
        f"{summary.get('accelerator') or 'no accelerator'})"
    ]
    for name, part in summary["parts"].items():
        why = f": {part['reason']}" if part.get("reason") else ""
        lines.append(f"  {name}: {part['status']}{why}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--tiny", action="store_true", help="seconds, on any CPU")
    parser.add_argument(
        "--cpu-only", action="store_true", help="ignore any accelerator present"
    )
    args = parser.parse_args(argv)
    s = SETTINGS["tiny" if args.tiny else "default"]
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    found = [] if args.cpu_only else available_accelerators()
    accelerator = found[0] if found else None
    parts = {"probe": guarded(probe, accelerator)}
    device_name = parts["probe"].get("device_name", "")
    cpu_threads = torch.get_num_threads()
    # Without an accelerator the worker still runs end to end, one thread against all.
    devices = (
        [("cpu", cpu_threads), (accelerator, cpu_threads)]
        if accelerator
        else [("cpu1", 1), ("cpu", cpu_threads)]
    )
    small, large = s["scales"]
    for label, scale in (("worker_small", small), ("worker_large", large)):
        where = args.out / label
        parts[label] = guarded(worker_part, scale, devices, s, where, accelerator)
    # The worker in bfloat16 (autocast, float32 master weights) at the small scale,
    # where every device runs it (devices.precision_problem, as the plan asks).
    cannot = bfloat16_problem(devices, accelerator)
    parts["worker_bfloat16"] = (
        skipped(cannot)
        if cannot
        else guarded(
            worker_part,
            small,
            devices,
            s,
            args.out / "worker_bfloat16",
            accelerator,
            "bfloat16",
        )
    )
    parts["sync"] = guarded(sync_part, accelerator, s)
    parts["inference"] = guarded(inference_part, accelerator, args.out / "worker_large")
    parts["inference_cpu"] = guarded(inference_part, "cpu", args.out / "worker_large")
    parts["probes"] = (
        guarded(probes_part, accelerator, s, device_name)
        if accelerator
        else skipped("no accelerator")
    )
    parts["probes_cpu"] = guarded(probes_part, "cpu", s, "")
    parts["oom"] = (
        guarded(oom_part, accelerator) if accelerator else skipped("no accelerator")
    )
    parts["oom_cpu"] = guarded(oom_part, "cpu")
    statuses = {p["status"] for p in parts.values()}
    verdict = (
        "fail"
        if "failed" in statuses
        else ("pass" if accelerator else "cpu only: the accelerator's parts skipped")
    )
    summary = {
        "format": "accelerator-check/1",
        "verdict": verdict,
        "accelerator": accelerator,
        "torch": torch.__version__,
        "node": platform.node(),
        "settings": "tiny" if args.tiny else "default",
        "wall_s": time.perf_counter() - started,
        "parts": parts,
    }
    text = json.dumps(plain(summary), indent=2, default=str, allow_nan=False)
    (args.out / "summary.json").write_text(text + "\n")
    (args.out / "verdict.txt").write_text(verdict_text(summary))
    print(verdict_text(summary), end="")
    return summary


if __name__ == "__main__":
    main()
