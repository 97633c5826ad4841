"""The timed training loop: warm-up, synchronised steps, repeats, evaluation.

What is timed (see docs/METHOD.md):

- a *step* runs from just before the next batch is fetched to the device
  synchronisation after ``optimizer.step()``; it includes fetching the batch
  (``data_s``) and moving it to the device, as the post's loop does;
- the first ``warmup_steps`` steps train the model like any other but are
  reported apart (they pay for lazy initialisation and first-touch memory);
- the timed steps after them are split into ``repeats`` consecutive windows;
- evaluation passes over the test set are timed apart from training steps.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class TimingPlan:
    """How many steps a job trains and which of them are timed."""

    protocol_steps: int  # epochs x batches per epoch: the post's full run
    warmup_steps: int
    repeats: int
    steps_per_repeat: int | None  # None: every step of the protocol after warm-up

    def __post_init__(self):
        if self.protocol_steps - self.warmup_steps < self.repeats:
            raise ValueError(
                f"the protocol has {self.protocol_steps} steps; after {self.warmup_steps} warm-up steps "
                f"fewer than one step is left for each of {self.repeats} repeats"
            )

    @property
    def timed_steps(self) -> int:
        left = self.protocol_steps - self.warmup_steps
        if self.steps_per_repeat is None:
            return left
        return min(left, self.repeats * self.steps_per_repeat)

    @property
    def total_steps(self) -> int:
        return self.warmup_steps + self.timed_steps

    @property
    def capped(self) -> bool:
        return self.total_steps < self.protocol_steps

    def repeat_of(self, timed_index: int) -> int:
        """Repeat (window) that the timed step ``timed_index`` (0-based) belongs to."""
        return timed_index * self.repeats // self.timed_steps


@dataclass
class TrainResult:
    steps: list[dict]  # one per step: step, epoch, repeat (-1 for warm-up), step_s, data_s, loss
    evals: list[dict]  # one per evaluation pass: epoch, eval_s, batches, accuracy
    test_logits: torch.Tensor  # logits of the last evaluation pass, on the CPU
    epochs_run: int


def evaluate(model, loader, device, sync) -> tuple[torch.Tensor, float, int]:
    """Logits over the whole test set (on the CPU), the pass's synchronised time, and its batch count."""
    model.eval()
    chunks = []
    sync()
    t0 = time.perf_counter()
    with torch.no_grad():
        for x, _ in loader:
            chunks.append(model(x.to(device)))
    sync()
    elapsed = time.perf_counter() - t0
    # Moving logits to the CPU is outside the timed pass: it is the check's bookkeeping, not inference.
    return torch.cat(chunks).cpu(), elapsed, len(chunks)


def train_timed(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable,
    test_loader: Iterable,
    test_labels: torch.Tensor,
    *,
    epochs: int,
    plan: TimingPlan,
    device,
    sync: Callable[[], None],
    mimic_seed_prints: bool = False,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train as the post does (evaluating after every epoch) and time every step.

    Stops after ``plan.total_steps`` steps; a run stopped inside an epoch ends
    with one more evaluation pass, so the last logits always follow the last
    step. With ``mimic_seed_prints`` the post's per-batch loss print (which
    waits for the device) is inside the timed step, as in the post.
    """
    steps: list[dict] = []
    evals: list[dict] = []
    losses: list[torch.Tensor] = []
    logits = None
    step = 0
    batches = len(train_loader)
    for epoch in range(epochs):
        if step >= plan.total_steps:
            break
        model.train()
        it = iter(train_loader)
        ran = 0
        for batch_idx in range(batches):
            if step >= plan.total_steps:
                break
            t0 = time.perf_counter()
            x, y = next(it)
            t1 = time.perf_counter()
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if mimic_seed_prints:
                log(f"Epoch: {epoch + 1:02d}/{epochs:02d} | Batch: {batch_idx + 1:02d}/{batches:02d} | Train Loss: {loss:.2f}")
            sync()
            t2 = time.perf_counter()
            timed = step - plan.warmup_steps
            steps.append(
                {
                    "step": step,
                    "epoch": epoch,
                    "repeat": plan.repeat_of(timed) if timed >= 0 else -1,
                    "step_s": t2 - t0,
                    "data_s": t1 - t0,
                }
            )
            losses.append(loss.detach())
            step += 1
            ran += 1
        finished_epoch = ran == batches
        if finished_epoch or step >= plan.total_steps:
            logits, eval_s, n_batches = evaluate(model, test_loader, device, sync)
            accuracy = (logits.argmax(dim=1) == test_labels).float().mean().item()
            evals.append(
                {"epoch": epoch, "eval_s": eval_s, "batches": n_batches, "accuracy": accuracy, "complete_epoch": finished_epoch}
            )
            log(f"epoch {epoch + 1}/{epochs}: {step} steps so far, eval accuracy {accuracy:.3f}, eval pass {eval_s:.4f} s")
    for rec, loss in zip(steps, torch.stack(losses).cpu().tolist() if losses else []):
        rec["loss"] = loss
    return TrainResult(steps=steps, evals=evals, test_logits=logits, epochs_run=len({s["epoch"] for s in steps}))


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default method)."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarise(values: list[float]) -> dict:
    """Median, quartiles and extremes of a list of times."""
    return {
        "median": statistics.median(values),
        "q25": quantile(values, 0.25),
        "q75": quantile(values, 0.75),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def seed_comparable_total(result: TrainResult, plan: TimingPlan, epochs: int) -> tuple[float, bool]:
    """Seconds the post's full protocol takes, and whether that figure is extrapolated.

    Measured when the job ran the whole protocol (the sum of every step and
    evaluation pass); otherwise warm-up steps as measured plus the median timed
    step for each remaining step plus the median evaluation pass per epoch.
    """
    warm = sum(s["step_s"] for s in result.steps if s["repeat"] < 0)
    timed = [s["step_s"] for s in result.steps if s["repeat"] >= 0]
    if not plan.capped:
        return warm + sum(timed) + sum(e["eval_s"] for e in result.evals), False
    median_step = statistics.median(timed)
    median_eval = statistics.median(e["eval_s"] for e in result.evals)
    return warm + median_step * (plan.protocol_steps - plan.warmup_steps) + median_eval * epochs, True
