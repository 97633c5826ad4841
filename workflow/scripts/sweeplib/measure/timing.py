"""How a step is timed, and how the devices of a scale take turns (docs/METHOD.md).

- A **step** runs from just before the next batch is fetched to the device
  synchronisation after ``optimizer.step()``: fetching the batch (``data_s``),
  moving it to the device, forward, loss, ``zero_grad``, backward, update.
- Each device first trains ``warmup_steps`` steps that are not timed steps
  (lazy initialisation, first touch of the gradients' memory); on an
  accelerator, for at least ``accelerator_warmup_s`` seconds too.
- Then come ``rounds`` rounds. In each, every device gets one **window**, in
  an order shuffled per round (google/benchmark's random interleaving). A
  window starts with ``switch_steps`` untimed steps, which absorb the cost of
  switching model and thread count (on an accelerator, lasting at least
  ``accelerator_switch_s`` seconds), then ``steps_per_window`` timed steps.
  A slow spell of the machine thus falls on every device alike.
- The untimed steps an accelerator runs beyond their count, to last their least
  time, are **rehearsals**: forward and backward on the batch of the step
  before, without the optimiser's update, so every device's model trains the
  same counted steps on the same batches (``trains`` is false on their rows).
- On an accelerator each window is also timed by a **device clock**: events
  recorded on the device's stream around the window (as Triton's ``do_bench``
  times), after the queue was drained by an event of its own, not by the
  synchroniser under test. ``host_window_s`` and ``device_window_s`` then span
  the same window; a synchronisation that returns before the device's work is
  done leaves the host's window short of the device's (``clocks.py``).
- Evaluation passes over the test set are timed apart, never inside a step.
- A run's **precision** (``Training.precision``) is how a step computes:
  ``float32``, the post's, with no autocast context at all; or ``bfloat16``,
  mixed precision as practitioners use it: the forward pass and the loss under
  ``torch.autocast(device_type, dtype=torch.bfloat16)`` (``autocast``), the
  backward and the SGD update outside it, on float32 master weights with
  float32 gradients. Rehearsals and evaluation passes run in the same precision.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..common.devices import PRECISIONS
from ..plan.schedule import Schedule


def autocast(device, precision: str) -> contextlib.AbstractContextManager:
    """The context a forward pass and its loss run in: none at all for ``float32``
    (the post's numbers, unchanged), ``torch.autocast`` to bfloat16 on the device's
    kind (``cpu``, ``cuda``, ``mps``) for ``bfloat16``. The backward pass and the
    optimiser's step run outside it: the weights it casts stay float32, and their
    gradients arrive as float32 through autocast's casts."""
    if precision == "float32":
        return contextlib.nullcontext()
    if precision == "bfloat16":
        kind = torch.device(device).type
        return torch.autocast(device_type=kind, dtype=torch.bfloat16)
    raise ValueError(
        f"precision {precision!r} is not one of {', '.join(map(repr, PRECISIONS))}"
    )


def device_clock(device: str) -> Callable[[], object] | None:
    """A maker of timing events on ``device``'s current stream, or None where there is
    none: the CPU, and an MPS build of torch without ``torch.mps.event``.

    An event has ``record()``, ``synchronize()`` and ``elapsed_time(end)`` in
    milliseconds, the time the device took from reaching it to reaching ``end``."""
    kind = torch.device(device).type
    if kind == "cuda":
        return lambda: torch.cuda.Event(enable_timing=True)
    if kind == "mps":
        try:
            from torch.mps.event import Event
        except ImportError:
            return None
        return lambda: Event(enable_timing=True)
    return None


class Trainer:
    """One device's model, optimiser and batches, trained one step at a time."""

    def __init__(
        self,
        name,
        model,
        optimizer,
        loader,
        device,
        sync,
        threads,
        post_prints=None,
        clock=None,
        precision="float32",
    ):
        self.name, self.model = name, model
        self.optimizer, self.loader = optimizer, loader
        self.device, self.sync, self.threads = device, sync, threads
        self.post_prints = post_prints  # the post's per-batch print, or None
        self.clock = clock  # device_clock(device): None on the CPU
        self.precision = precision  # the forward's and the loss's (``autocast``)
        autocast(device, precision)  # refuses an unknown precision at once
        self.steps_per_epoch = len(loader)
        # ``steps`` counts the steps that trained the model, ``runs`` every step run
        # (rehearsals too): the rows' ``step``, unique per device and process.
        self.epoch, self.step_in_epoch, self.steps, self.runs = 0, 0, 0, 0
        self.losses: list[torch.Tensor] = []
        self._batches = iter(loader)
        self._last = None  # the last batch trained on, on the device

    @property
    def on_accelerator(self) -> bool:
        return torch.device(self.device).type != "cpu"

    def activate(self) -> None:
        """Claim this device's CPU threads (the host side of an accelerator too)."""
        torch.set_num_threads(self.threads)
        self.model.train()

    def step(self) -> dict:
        """Train one step and time it, synchronised; the next epoch's shuffle is drawn
        after it."""
        t0 = time.perf_counter()
        x, y = next(self._batches)
        t1 = time.perf_counter()
        x, y = x.to(self.device), y.to(self.device)
        loss = self.forward_loss(x, y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if self.post_prints:
            self.post_prints(self.epoch, self.step_in_epoch, self.steps_per_epoch, loss)
        self.sync()
        t2 = time.perf_counter()
        record = {
            "step": self.runs,
            "epoch": self.epoch,
            "step_s": t2 - t0,
            "data_s": t1 - t0,
            "trains": True,
        }
        self.losses.append(loss.detach())
        self._last = (x, y)
        self._advance()
        return record

    def forward_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The forward pass and the loss, in the run's precision (``autocast``); the
        loss is float32 either way (autocast computes cross-entropy in float32)."""
        with autocast(self.device, self.precision):
            return F.cross_entropy(self.model(x), y)

    def can_rehearse(self) -> bool:
        """Whether a step has left a batch to rehearse on."""
        return self._last is not None

    def rehearse(self) -> dict:
        """An untimed step that keeps the device busy as a step does and trains
        nothing: forward, loss and backward on the last batch, no update, so the
        weights stay those of the counted steps. Its gradients are cleared by the
        next step's ``zero_grad`` before that step's backward."""
        t0 = time.perf_counter()
        x, y = self._last
        loss = self.forward_loss(x, y)
        self.optimizer.zero_grad()
        loss.backward()
        self.sync()
        record = {
            "step": self.runs,
            "epoch": self.epoch,
            "step_s": time.perf_counter() - t0,
            "data_s": 0.0,
            "trains": False,
        }
        self.losses.append(loss.detach())
        self.runs += 1
        return record

    def _advance(self) -> None:
        self.steps += 1
        self.runs += 1
        self.step_in_epoch += 1
        if self.step_in_epoch == self.steps_per_epoch:
            self.epoch, self.step_in_epoch = self.epoch + 1, 0
            self._batches = iter(self.loader)

    def loss_values(self) -> list[float]:
        """Every step's loss, read from the device once (reading one waits for the
        device)."""
        return torch.stack(self.losses).cpu().tolist() if self.losses else []


def run_rounds(
    trainers: dict[str, Trainer], schedule: Schedule, order: random.Random
) -> list[dict]:
    """Warm every device up, then run the rounds; one record per step, with its role.

    ``kind`` is ``warmup``, ``switch`` (untimed, after a change of device) or
    ``timed``; ``round`` and ``slot`` (the device's place in the round's
    shuffled order) are -1 for warm-up steps. Every device trains exactly
    ``schedule.steps_per_device`` steps (``trains``); the untimed steps an
    accelerator runs beyond their count to last their least time are
    rehearsals, which train nothing (``Trainer.rehearse``). A timed step's record
    also carries its window's ``host_window_s`` and ``device_window_s``
    (``timed_window``).
    """
    records = []

    def steps(trainer, n, kind, round_, slot):
        """``n`` steps; untimed ones on an accelerator then rehearse until their
        least time has passed."""
        where = {
            "device": trainer.name,
            "kind": kind,
            "round": round_,
            "slot": slot,
            "threads": torch.get_num_threads(),
        }
        if kind == "timed":
            mine = []
            window = timed_window(trainer, n, mine.append)
            records.extend({**r, **where, **window} for r in mine)
            return
        least = schedule.min_seconds(kind, trainer.on_accelerator)
        started = time.perf_counter()
        for _ in range(n):
            records.append({**trainer.step(), **where})
        while time.perf_counter() - started < least and trainer.can_rehearse():
            records.append({**trainer.rehearse(), **where})

    for trainer in trainers.values():
        trainer.activate()
        steps(trainer, schedule.warmup_steps, "warmup", -1, -1)
    for round_ in range(schedule.rounds):
        names = list(trainers)
        order.shuffle(names)
        for slot, name in enumerate(names):
            trainers[name].activate()
            steps(trainers[name], schedule.switch_steps, "switch", round_, slot)
            steps(trainers[name], schedule.window_steps, "timed", round_, slot)
    for trainer in trainers.values():
        for record, loss in zip(
            [r for r in records if r["device"] == trainer.name], trainer.loss_values()
        ):
            record["loss"] = loss
    return records


def timed_window(trainer: Trainer, n: int, keep: Callable[[dict], None]) -> dict:
    """Train ``n`` timed steps, each record passed to ``keep``; the window's host time
    and, on a device with a clock, its device time (NaN without one).

    The device's queue is drained first by an event of the clock's own, outside
    the window, so that neither clock starts with work left over from the steps
    before. Both clocks then span the same window: the host's from before the
    start event is recorded to after the end event is; the device's from
    reaching the one to reaching the other. Only the device's clock sees work the
    last step left queued when it returned."""
    clock = trainer.clock
    if clock is not None:
        drain, start, end = clock(), clock(), clock()
        drain.record()
        drain.synchronize()
    t0 = time.perf_counter()
    if clock is not None:
        start.record()
    for _ in range(n):
        keep(trainer.step())
    if clock is not None:
        end.record()
    host = time.perf_counter() - t0
    device = float("nan")
    if clock is not None:
        end.synchronize()
        device = start.elapsed_time(end) / 1000
    return {"host_window_s": host, "device_window_s": device}


def evaluate(
    model, loader, device, sync: Callable[[], None], precision: str = "float32"
) -> tuple[torch.Tensor, float, int]:
    """Logits over the whole test set (on the CPU, float32), the pass's synchronised
    time, its batches; in the training's ``precision`` (``autocast``: a bfloat16
    model's logits are bfloat16 values, widened to float32 after the pass)."""
    model.eval()
    chunks = []
    sync()
    t0 = time.perf_counter()
    with torch.no_grad(), autocast(device, precision):
        for x, _ in loader:
            chunks.append(model(x.to(device)))
    sync()
    elapsed = time.perf_counter() - t0
    # Moving logits to the CPU is outside the timed pass: the check's bookkeeping, not
    # inference. ``float()`` leaves float32 logits as they are.
    return torch.cat(chunks).cpu().float(), elapsed, len(chunks)


def time_calls(
    fn: Callable[[], object],
    sync: Callable[[], None],
    repeats: int,
    min_seconds: float = 0.0,
    warmup: int = 2,
) -> tuple[list[float], int]:
    """Synchronised seconds per call of ``fn`` in ``repeats`` samples, after ``warmup``
    untimed calls; and the calls per sample.

    Each sample runs ``k`` calls between two synchronisations, ``k`` doubled from 1
    until a sample lasts ``min_seconds``: on a GPU one call can take tens of
    microseconds, and a sample of one call would mostly time the synchronisation
    and the launch (as pyperf and torch.utils.benchmark calibrate a loop count)."""
    for _ in range(warmup):
        fn()
    sync()
    k = 1
    while True:
        elapsed = _timed(fn, sync, k)
        if elapsed >= min_seconds or k >= 2**20:
            break
        k *= 2
    return [_timed(fn, sync, k) / k for _ in range(repeats)], k


def _timed(fn: Callable[[], object], sync: Callable[[], None], calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    sync()
    return time.perf_counter() - t0
