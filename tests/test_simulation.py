"""A simulated shared machine whose speed drifts by +-20% over a run and jumps twice by
15%: the interleaved design's interval covers the true ratio, the design it
replaced (each device in a job of its own, steps resampled) does not."""

import numpy as np

from sweeplib.speedup import speedup_table
from synthetic import Machine, true_time, windows

SWEEPS = 40
SCALE = 5
TRUTH = true_time("cpu1", SCALE) / true_time("cpu", SCALE)


def machine(sweep: int) -> Machine:
    return Machine(np.random.default_rng(1000 + sweep), drift=0.20, jumps=2, jump=0.15)


def interleaved_interval(sweep: int) -> tuple[float, float]:
    """Three processes of four rounds each, as the default config's large scales run."""
    w = windows(
        ["cpu1", "cpu"],
        [SCALE],
        processes=3,
        rounds=4,
        noise=0.03,
        process_sd=0.02,
        machine=machine(sweep),
        seed=sweep,
    )
    table, _ = speedup_table(w, "cpu1", 2000, 0.95, seed=sweep)
    return float(table["ci_low"].iloc[0]), float(table["ci_high"].iloc[0])


def separate_jobs_interval(sweep: int, steps: int = 100) -> tuple[float, float]:
    """The former design on the same machine: the baseline's job (100 timed steps) in
    the first half of the run, the device's in the second; the ratio of medians, with an
    interval from resampling each job's steps independently."""
    rng = np.random.default_rng(sweep)
    m = machine(sweep)
    times = {}
    for k, device in enumerate(("cpu1", "cpu")):
        t = (k + np.arange(steps) / steps) / 2
        times[device] = (
            true_time(device, SCALE) * m.factor(t) * np.exp(rng.normal(0, 0.03, steps))
        )
    boot = [
        np.median(rng.choice(times["cpu1"], steps))
        / np.median(rng.choice(times["cpu"], steps))
        for _ in range(2000)
    ]
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(low), float(high)


def coverage(interval) -> float:
    return sum(lo <= TRUTH <= hi for lo, hi in map(interval, range(SWEEPS))) / SWEEPS


def test_interleaved_intervals_cover_the_truth_despite_drift():
    assert coverage(interleaved_interval) >= 0.90


def test_separate_jobs_do_not():
    assert coverage(separate_jobs_interval) < 0.50
