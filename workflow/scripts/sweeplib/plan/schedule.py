"""Which steps of each device's training a timing process runs, and which it times
(no torch here: the config check uses it)."""

from __future__ import annotations

from dataclasses import dataclass


def protocol_steps(epochs: int, n_train: int, batch_size: int) -> int:
    """Steps of the post's protocol: epochs x batches per epoch (the last batch may be
    short)."""
    return epochs * -(-n_train // batch_size)


@dataclass(frozen=True)
class Schedule:
    """Which steps of each device's training one process runs and times."""

    protocol_steps: int  # epochs x batches per epoch: the post's full run
    warmup_steps: int
    rounds: int
    # None ("all"): the protocol after warm-up, spread over the rounds
    steps_per_window: int | None
    switch_steps: int
    # On an accelerator, warm-up and switch steps also last at least these seconds:
    # a GPU step can take well under a millisecond, and one step does not cover the
    # clock's ramp after the device idled through another device's window.
    accelerator_warmup_s: float = 0.0
    accelerator_switch_s: float = 0.0

    def __post_init__(self):
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    def min_seconds(self, kind: str, accelerator: bool) -> float:
        """How long a device's untimed steps of ``kind`` (``warmup`` or ``switch``)
        last at least: nothing beyond their count on the CPU."""
        if not accelerator:
            return 0.0
        return {
            "warmup": self.accelerator_warmup_s,
            "switch": self.accelerator_switch_s,
        }[kind]

    @property
    def window_steps(self) -> int:
        """Timed steps in each window."""
        if self.steps_per_window is None:
            per_round = (self.protocol_steps - self.warmup_steps) // self.rounds
            return per_round - self.switch_steps
        return self.steps_per_window

    @property
    def steps_per_device(self) -> int:
        """Steps each device trains in one process."""
        return self.warmup_steps + self.rounds * (self.switch_steps + self.window_steps)

    @property
    def capped(self) -> bool:
        """Whether a process trains fewer steps than the post's whole protocol."""
        return self.steps_per_device < self.protocol_steps

    def problem(self) -> str | None:
        """Why the protocol has too few steps for this schedule, if it has."""
        if self.window_steps >= 1 and self.steps_per_device <= self.protocol_steps:
            return None
        return (
            "warmup_steps + rounds x (switch_steps + steps_per_window) must fit in "
            f"the {self.protocol_steps}-step protocol (epochs x batches per epoch), "
            f"with at least one timed step per window; here {self.warmup_steps} + "
            f"{self.rounds} x ({self.switch_steps} + {self.window_steps})"
        )
