"""The work of one timing process (``worker.py`` starts it): every device's model
built from the same seed and warmed up, the rounds run (``timing.run_rounds``),
each saved model evaluated, and what was measured returned as rows.

The spec names the scale's settings, the devices of this process, its index,
the dataset, the threads it runs with, where to write its tables, and, for the
process that provides the checkpoints, where to save each device's model and
its final test-set logits.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import resource
import sys
import time
from collections.abc import Iterator

import torch

from .atomic import torch_save
from .checkpoint import save_checkpoint
from .data import dataset_sha256, load_dataset, make_loader
from .devices import THREAD_VARIABLES, synchronizer, torch_device
from .memory import gib
from .model import NeuralNetwork
from .schedule import Schedule, protocol_steps
from .sizes import ModelSizes
from .timing import Trainer, evaluate, run_rounds


def run_process(spec: dict) -> tuple[list[dict], list[dict]]:
    """Train and time every device of this process; one row per step, one per device."""
    started_at = time.time()
    settings = spec["settings"]
    train, timing = settings["train"], settings["timing"]
    data = load_dataset(spec["dataset"])
    devices = [d for d in settings["devices"] if d["name"] in spec["devices"]]
    schedule = Schedule.from_settings(
        timing,
        protocol_steps(train["epochs"], len(data["Y_train"]), train["batch_size"]),
    )
    trainers, build_s = {}, {}
    with memory_errors(settings, spec):
        for d in devices:
            t0 = time.perf_counter()
            trainers[d["name"]] = build_trainer(
                d, settings, data, max(x["threads"] for x in devices)
            )
            build_s[d["name"]] = time.perf_counter() - t0
        records = run_rounds(
            trainers,
            schedule,
            random.Random(f"{timing['order_seed']}:{spec['process']}"),
        )
        saved = {"dataset_sha256": dataset_sha256(data)} if spec["save"] else {}
        evals = {
            name: {**save_outputs(t, data, spec, settings), **saved}
            for name, t in trainers.items()
            if name in spec["save"]
        }
    ended_at = time.time()
    rows = [
        {
            "process": spec["process"],
            "device": name,
            "build_s": build_s[name],
            **evals.get(name, {}),
            "peak_rss_bytes": peak_rss(),
            **device_memory(name),
            "process_threads": spec["threads"],
            "thread_variables": thread_variables(),
            "mem_estimate_bytes": spec["mem_estimate_bytes"],
            "started_at": started_at,
            "ended_at": ended_at,
            "node": platform.node(),
        }
        for name in trainers
    ]
    return [{**r, "process": spec["process"]} for r in records], rows


def build_trainer(
    device: dict, settings: dict, data: dict, build_threads: int
) -> Trainer:
    """The model as the post builds it (``torch.manual_seed`` first), on its device,
    with a loader whose shuffles come from a generator of its own, seeded alike for
    every device."""
    train = settings["train"]
    name = device["name"]
    torch.set_num_threads(build_threads)  # building is not timed: every thread helps
    torch.manual_seed(train["model_seed"])
    model = NeuralNetwork(ModelSizes(**settings["sizes"])).to(torch_device(name))
    optimizer = torch.optim.SGD(model.parameters(), lr=train["lr"])
    loader = make_loader(
        data["X_train"],
        data["Y_train"],
        kind=train["loader"],
        batch_size=train["batch_size"],
        shuffle=True,
        num_workers=train["num_workers"],
        generator=torch.Generator().manual_seed(train["model_seed"]),
    )
    prints = (
        post_print(train["epochs"]) if settings["timing"]["mimic_post_prints"] else None
    )
    return Trainer(
        name,
        model,
        optimizer,
        loader,
        torch_device(name),
        synchronizer(name),
        device["threads"],
        prints,
    )


def post_print(epochs: int):
    """The post's per-batch print (formatting the loss waits for the device)."""

    def show(epoch: int, batch: int, batches: int, loss: torch.Tensor) -> None:
        e, b = f"{epoch + 1:02d}/{epochs:02d}", f"{batch + 1:02d}/{batches:02d}"
        print(f"Epoch: {e} | Batch: {b} | Train Loss: {loss:.2f}")

    return show


def save_outputs(trainer: Trainer, data: dict, spec: dict, settings: dict) -> dict:
    """Evaluate the trained model once, and save its checkpoint and test-set logits."""
    trainer.activate()
    test = make_loader(
        data["X_test"],
        data["Y_test"],
        kind=settings["train"]["loader"],
        batch_size=settings["train"]["batch_size"],
        shuffle=False,
    )
    logits, eval_s, batches = evaluate(
        trainer.model, test, trainer.device, trainer.sync
    )
    paths = spec["save"][trainer.name]
    meta = {
        "run_key": spec["run_key"],
        "scale": settings["scale"],
        "device": trainer.name,
        "settings": json.dumps(settings, sort_keys=True),
    }
    save_checkpoint(paths["checkpoint"], trainer.model, meta)
    torch_save(paths["predictions"], {"logits": logits, "run_key": spec["run_key"]})
    accuracy = (logits.argmax(dim=1) == data["Y_test"]).float().mean().item()
    return {"eval_s": eval_s, "eval_batches": batches, "final_accuracy": accuracy}


@contextlib.contextmanager
def memory_errors(settings: dict, spec: dict) -> Iterator[None]:
    """Turn an allocator's out-of-memory error into one naming the scale, devices and
    estimate."""
    try:
        yield
    except RuntimeError as exc:
        if not is_out_of_memory(exc):
            raise
        where = f"scale {settings['scale']} on {', '.join(spec['devices'])}"
        estimate = spec.get("mem_estimate_bytes")
        detail = f"; the estimate was {gib(estimate)}" if estimate else ""
        raise MemoryError(f"{where} ran out of memory{detail}: {exc}") from exc


def is_out_of_memory(exc: RuntimeError) -> bool:
    """CUDA raises ``torch.OutOfMemoryError``; the CPU allocator a RuntimeError that
    "can't allocate memory"; MPS a plain RuntimeError, "MPS backend out of memory"."""
    text = str(exc)
    return (
        isinstance(exc, torch.OutOfMemoryError)
        or "allocate memory" in text
        or "out of memory" in text
    )


def peak_rss() -> int:
    """This process's peak resident memory in bytes.

    On Linux, VmHWM, which starts afresh at exec; ``ru_maxrss`` does not, so a
    process would inherit the peak of the one that started it.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def device_memory(device: str) -> dict:
    """What an accelerator's allocator held: its peak (CUDA's
    ``max_memory_allocated``; for MPS ``torch.accelerator.max_memory_allocated``,
    from torch 2.13 on), and for MPS also what the driver holds for the process at
    its end (``driver_allocated_memory``, a current figure, not a peak). NaN where a
    figure does not exist (the CPU's peak is the RSS)."""
    peak = end = float("nan")
    if device == "cuda":
        peak = float(torch.cuda.max_memory_allocated())
    elif device == "mps":
        end = float(torch.mps.driver_allocated_memory())
        accelerator = getattr(torch, "accelerator", None)
        if hasattr(accelerator, "max_memory_allocated"):
            peak = float(accelerator.max_memory_allocated())
    return {"device_peak_bytes": peak, "device_end_bytes": end}


def thread_variables() -> str:
    """The thread variables this process runs with, as ``NAME=value`` pairs."""
    return " ".join(f"{v}={os.environ.get(v, '')}" for v in THREAD_VARIABLES)
