"""The work of one timing process (``worker.py`` starts it): every device's model
built from the same seed and warmed up, the rounds run (``timing.run_rounds``),
each saved model evaluated, and what was measured returned as rows.

The spec (``processes.worker_spec``) names the run, this process (its index,
devices and threads), the dataset, where to write its tables, and, for the
process that provides the checkpoints, where to save each device's model and
its final test-set logits.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import resource
import sys
import time
from collections.abc import Iterator

import torch

from ..common.atomic import torch_save
from ..common.devices import THREAD_VARIABLES, synchronizer, torch_device
from ..common.memory import gib
from ..common.sizes import ModelSizes
from ..plan.runspec import RunSpec, Training, WorkerSpec
from .checkpoint import save_checkpoint
from .data import dataset_sha256, load_dataset, make_loader
from .model import NeuralNetwork
from .timing import Trainer, device_clock, evaluate, run_rounds


def run_process(spec: WorkerSpec) -> tuple[list[dict], list[dict]]:
    """Train and time every device of this process; one row per step, one per
    device."""
    started_at = time.time()
    run, process = spec.run, spec.process
    data = load_dataset(spec.dataset)
    trainers, build_s = {}, {}
    with memory_errors(run.scale, process.devices, spec.mem_estimate_bytes):
        for name in process.devices:
            t0 = time.perf_counter()
            trainers[name] = build_trainer(
                name,
                run.device(name).threads,
                run.sizes,
                run.training,
                data,
                build_threads=process.threads,
                post_prints=run.timing.mimic_post_prints,
            )
            build_s[name] = time.perf_counter() - t0
        order = random.Random(f"{run.timing.order_seed}:{process.index}")
        records = run_rounds(trainers, run.schedule(), order)
        saved = {"dataset_sha256": dataset_sha256(data)} if spec.save else {}
        evals = {
            name: {**save_outputs(t, data, spec.save[name], run), **saved}
            for name, t in trainers.items()
            if name in spec.save
        }
    ended_at = time.time()
    rows = [
        {
            "process": process.index,
            "device": name,
            "build_s": build_s[name],
            "trained_steps": trainers[name].steps,
            **evals.get(name, {}),
            "peak_rss_bytes": peak_rss(),
            **device_memory(name),
            "process_threads": process.threads,
            "thread_variables": thread_variables(),
            "mem_estimate_bytes": spec.mem_estimate_bytes,
            "started_at": started_at,
            "ended_at": ended_at,
            "node": platform.node(),
        }
        for name in trainers
    ]
    return [{**r, "process": process.index} for r in records], rows


def build_trainer(
    device: str,
    threads: int,
    sizes: ModelSizes,
    training: Training,
    data: dict,
    build_threads: int,
    post_prints: bool = False,
) -> Trainer:
    """The model as the post builds it (``torch.manual_seed`` first), on its device,
    with a loader whose shuffles come from a generator of its own, seeded alike for
    every device; ``threads`` are the device's, claimed before each of its windows.
    Its steps run in the training's precision (``timing.autocast``); the model's
    weights are float32 either way."""
    torch.set_num_threads(build_threads)  # building is not timed: every thread helps
    torch.manual_seed(training.model_seed)
    model = NeuralNetwork(sizes).to(torch_device(device))
    optimizer = torch.optim.SGD(model.parameters(), lr=training.lr)
    loader = make_loader(
        data["X_train"],
        data["Y_train"],
        kind=training.loader,
        batch_size=training.batch_size,
        shuffle=True,
        num_workers=training.num_workers,
        generator=torch.Generator().manual_seed(training.model_seed),
    )
    return Trainer(
        device,
        model,
        optimizer,
        loader,
        torch_device(device),
        synchronizer(device),
        threads,
        post_print(training.epochs) if post_prints else None,
        clock=device_clock(torch_device(device)),
        precision=training.precision,
    )


def post_line(epoch: int, epochs: int, batch: int, batches: int, loss) -> str:
    """The post's per-batch print, epoch and batch counted from 1 (formatting a
    device's loss tensor waits for the device, as the post's print did). The toy's
    log uses it too; it lives here, not in ``toy``, so that the timed runs' keys do
    not follow the toy's code."""
    e, b = f"{epoch:02d}/{epochs:02d}", f"{batch:02d}/{batches:02d}"
    return f"Epoch: {e} | Batch: {b} | Train Loss: {loss:.2f}"


def post_print(epochs: int):
    """The post's per-batch print (formatting the loss waits for the device)."""

    def show(epoch: int, batch: int, batches: int, loss: torch.Tensor) -> None:
        print(post_line(epoch + 1, epochs, batch + 1, batches, loss))

    return show


def save_outputs(trainer: Trainer, data: dict, paths: dict, run: RunSpec) -> dict:
    """Evaluate the trained model once, in the precision it trained in, and save its
    checkpoint (float32 weights, whatever the precision) and test-set logits
    (float32 numbers; under bfloat16, bfloat16 values widened). The inference check
    predicts again in the same precision (``inference.check``)."""
    trainer.activate()
    test = make_loader(
        data["X_test"],
        data["Y_test"],
        kind=run.training.loader,
        batch_size=run.training.batch_size,
        shuffle=False,
    )
    logits, eval_s, batches = evaluate(
        trainer.model, test, trainer.device, trainer.sync, trainer.precision
    )
    meta = {
        "run_key": run.key,
        "scale": run.scale,
        "device": trainer.name,
        # The steps that updated the weights: the schedule's, on every device alike.
        "trained_steps": trainer.steps,
        # How its logits were computed (the weights are float32 whatever it says).
        "precision": trainer.precision,
        "settings": run.to_json(),
    }
    save_checkpoint(paths["checkpoint"], trainer.model, meta)
    torch_save(paths["predictions"], {"logits": logits, "run_key": run.key})
    accuracy = (logits.argmax(dim=1) == data["Y_test"]).float().mean().item()
    return {"eval_s": eval_s, "eval_batches": batches, "final_accuracy": accuracy}


@contextlib.contextmanager
def memory_errors(scale, devices, estimate: int | None = None) -> Iterator[None]:
    """Turn an allocator's out-of-memory error into one naming the scale, devices and
    estimate."""
    try:
        yield
    except RuntimeError as exc:
        if not is_out_of_memory(exc):
            raise
        where = f"scale {scale} on {', '.join(devices)}"
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
