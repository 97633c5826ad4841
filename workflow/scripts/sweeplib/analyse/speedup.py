"""Speedups from paired rounds, with intervals that include the variation between
processes (docs/METHOD.md, "Statistics").

Interleaved scales: in every round each device had one window, so a round
gives one paired ratio per device, the baseline's window median over the
device's. The speedup is the median of these ratios over all rounds of all
processes. Its interval is a two-stage bootstrap, the resampling that matches
how the data arose: draw the processes with replacement, then the rounds
within each drawn process with replacement, and take the median of the pooled
ratios; the percentile interval of those medians. A process whose state
differed (thread placement, memory layout, a neighbour's load) moves all its
rounds together; resampling processes carries that into the interval.

Separate scales (the models did not fit in memory together): the devices'
windows come from different processes, so no round is paired. The speedup is
the ratio of the devices' median windows; the bootstrap draws process indices
with replacement (process i of each device ran next to the other's), then each
device's windows within them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..common.devices import INTERLEAVED, SEPARATE
from ..common.formatting import fmt_time

ROUND = ["scale", "process", "round"]


def round_ratios(windows: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """One row per (scale, device, process, round) of interleaved scales: the paired
    ratio."""
    inter = windows[windows["pairing"] == INTERLEAVED]
    base = inter[inter["device"] == baseline][[*ROUND, "step_median_s"]]
    others = inter[inter["device"] != baseline][[*ROUND, "device", "step_median_s"]]
    merged = others.merge(base, on=ROUND, suffixes=("", "_baseline"))
    return merged.assign(
        ratio=merged["step_median_s_baseline"] / merged["step_median_s"]
    )[["scale", "device", "process", "round", "ratio"]]


def resample(
    groups: list[np.ndarray], picks: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Pooled values of each replicate: for each drawn group (``picks``: replicates x
    draws), its values drawn with replacement. Shorter groups are padded with NaN."""
    sizes = np.array([len(g) for g in groups])
    table = np.full((len(groups), sizes.max()), np.nan)
    for i, g in enumerate(groups):
        table[i, : len(g)] = g
    n = sizes[picks][..., None]
    within = np.floor(rng.random((*picks.shape, table.shape[1])) * n).astype(np.int64)
    values = table[picks[..., None], within]
    values[np.arange(table.shape[1]) >= n] = np.nan
    return values.reshape(len(picks), -1)


def paired_replicates(
    by_process: list[np.ndarray], n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap medians of the pooled round ratios (processes, then rounds, drawn with
    replacement)."""
    picks = rng.integers(0, len(by_process), size=(n_boot, len(by_process)))
    estimate = float(np.median(np.concatenate(by_process)))
    return widen(
        np.nanmedian(resample(by_process, picks, rng), axis=1),
        estimate,
        len(by_process),
    )


def separate_replicates(
    baseline: list[np.ndarray],
    device: list[np.ndarray],
    n_boot: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bootstrap ratios of median windows, drawing process indices for both devices
    alike."""
    picks = rng.integers(0, len(baseline), size=(n_boot, len(baseline)))
    b = np.nanmedian(resample(baseline, picks, rng), axis=1)
    d = np.nanmedian(resample(device, picks, rng), axis=1)
    estimate = float(
        np.median(np.concatenate(baseline)) / np.median(np.concatenate(device))
    )
    return widen(b / d, estimate, len(baseline))


def widen(replicates: np.ndarray, estimate: float, processes: int) -> np.ndarray:
    """Correct the bootstrap's known shrinkage with few processes: resampling n groups
    gives a spread whose variance is (n - 1)/n of the groups' own, so the replicates'
    log-distances from the estimate are stretched by sqrt(n / (n - 1)) (x1.22 for 3)."""
    if processes < 2:
        return replicates
    return estimate * (replicates / estimate) ** math.sqrt(processes / (processes - 1))


def median_interval(values, confidence: float) -> tuple[float, float]:
    """Distribution-free interval for a median: the order statistics x(k), x(n+1-k) with
    the largest k whose coverage, 1 - 2 P(Binomial(n, 1/2) < k), is at least
    ``confidence``; the full range when n is too small for that. O(n log n) at any n
    (``binomial_half_cdf``)."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n < 2:
        return float(x[0]), float(x[-1])
    k = median_rank(n, confidence)
    return float(x[k - 1]), float(x[n - k])


def median_rank(n: int, confidence: float) -> int:
    """The k of ``median_interval`` for n values (n >= 2): O(n)."""
    # coverage(k) = 1 - 2 cdf[k - 1] falls with k; the answer is the largest k < n
    # with coverage(k) >= confidence, and at least 1.
    cdf = binomial_half_cdf(n)
    fits = 1 - 2 * cdf[: n - 1] >= confidence  # fits[k - 1]: k = 1 .. n - 1
    return max(int(np.count_nonzero(fits)), 1)


# Below this n the binomial's cumulative sums are exact (integers); above, they are
# summed in log space: against the exact sums, a relative error of some 2e-12 at
# n = 1,001, 7e-12 at 5,000 and 2e-11 at 20,000 (from lgamma of numbers near n),
# far below what moves a confidence level's k.
EXACT_N = 1000


def binomial_half_cdf(n: int) -> np.ndarray:
    """P(Binomial(n, 1/2) <= i) for i = 0 .. n, in O(n)."""
    if n <= EXACT_N:
        total, c, out = 2**n, 1, []
        acc = 0
        for i in range(n + 1):
            acc += c
            out.append(acc / total)
            c = c * (n - i) // (i + 1)
        return np.array(out)
    i = np.arange(n + 1)
    log_pmf = (
        math.lgamma(n + 1)
        - np.array([math.lgamma(j + 1) for j in i])
        - np.array([math.lgamma(n - j + 1) for j in i])
        - n * math.log(2)
    )
    return np.minimum(np.cumsum(np.exp(log_pmf)), 1.0)


def _kth_without(pool: np.ndarray, removed: np.ndarray, k: int) -> float:
    """The k-th smallest (1-based) of ``pool`` without ``removed`` (both sorted;
    ``removed`` a part of ``pool``): a binary search on the pool, O(log^2 n)."""
    lo, hi = 0, len(pool) - 1
    while lo < hi:  # the first j with k others at most pool[j]
        mid = (lo + hi) // 2
        v = pool[mid]
        below = np.searchsorted(pool, v, "right") - np.searchsorted(removed, v, "right")
        if below >= k:
            hi = mid
        else:
            lo = mid + 1
    return float(pool[lo])


def disagreeing(groups: dict[int, np.ndarray], confidence: float) -> list[dict]:
    """Processes whose values say something the other processes' values exclude: the
    distribution-free interval of its median and that of the others' pooled median do
    not overlap. Reported, never dropped. The others' order statistics are read off
    one sorted pool of all values (not a pool per process): O(N log N) for N values
    in all, whatever the number of processes."""
    if len(groups) < 2:
        return []
    pool = np.sort(np.concatenate([np.asarray(v, float) for v in groups.values()]))
    out, ranks = [], {}  # processes of one length share their others' k
    for p, values in groups.items():
        values = np.sort(np.asarray(values, dtype=float))
        n_others = len(pool) - len(values)
        if n_others < 2 or len(values) < 2:
            continue
        lo, hi = median_interval(values, confidence)
        if n_others not in ranks:
            ranks[n_others] = median_rank(n_others, confidence)
        k = ranks[n_others]
        olo = _kth_without(pool, values, k)
        ohi = _kth_without(pool, values, n_others + 1 - k)
        if hi < olo or lo > ohi:
            middle = (
                _kth_without(pool, values, (n_others + 1) // 2)
                + _kth_without(pool, values, n_others // 2 + 1)
            ) / 2
            out.append(
                {
                    "process": int(p),
                    "median": float(np.median(values)),
                    "others_median": middle,
                    "interval": [lo, hi],
                    "others_interval": [olo, ohi],
                }
            )
    return out


COLUMNS = [
    "scale",
    "params",
    "device",
    "baseline",
    "pairing",
    "speedup",
    "ci_low",
    "ci_high",
    "rounds",
    "processes",
    "process_speedups",
    "disagreeing",
]


def speedup_table(
    windows: pd.DataFrame, baseline: str, n_boot: int, confidence: float, seed: int
):
    """Speedup of each device over the baseline per scale, with its interval and the
    processes that disagree; and, per device, the bootstrap replicates (rows) by scale.
    """
    rng = np.random.default_rng(seed)
    ratios = round_ratios(windows, baseline)
    alpha = 100 * (1 - confidence) / 2
    rows, boots = [], {}
    for device in [d for d in windows["device"].unique() if d != baseline]:
        reps = []
        for scale in sorted(
            set(windows.loc[windows["device"] == device, "scale"])
            & set(windows.loc[windows["device"] == baseline, "scale"])
        ):
            at = windows[windows["scale"] == scale]
            if at["pairing"].iloc[0] == INTERLEAVED:
                mine = ratios[(ratios["scale"] == scale) & (ratios["device"] == device)]
                if mine.empty:  # no round of the device pairs with the baseline's
                    continue
                row, rep = paired_speedup(mine, n_boot, confidence, rng)
            elif not _shared_processes(at, baseline, device):
                continue
            else:
                row, rep = separate_speedup(
                    at, baseline, device, n_boot, confidence, rng
                )
            low, high = np.percentile(rep, [alpha, 100 - alpha])
            rows.append(
                {
                    "scale": scale,
                    "params": int(at["params"].iloc[0]),
                    "device": device,
                    "baseline": baseline,
                    **row,
                    "ci_low": float(low),
                    "ci_high": float(high),
                }
            )
            reps.append(rep)
        boots[device] = np.stack(reps, axis=1) if reps else np.empty((n_boot, 0))
    return pd.DataFrame(rows, columns=COLUMNS), boots


def _shared_processes(at: pd.DataFrame, baseline: str, device: str) -> set:
    """The processes in which both devices of a separate scale have windows."""
    return set(at.loc[at["device"] == baseline, "process"]) & set(
        at.loc[at["device"] == device, "process"]
    )


def paired_speedup(ratios: pd.DataFrame, n_boot: int, confidence: float, rng):
    """An interleaved scale: the median round ratio, and its bootstrap replicates."""
    groups = {p: g["ratio"].to_numpy() for p, g in ratios.groupby("process")}
    odd = [
        f"process {o['process']}: {o['median']:.3g}x, the others "
        f"{o['others_median']:.3g}x"
        for o in disagreeing(groups, confidence)
    ]
    row = _row(
        INTERLEAVED,
        float(ratios["ratio"].median()),
        len(ratios),
        [float(np.median(v)) for v in groups.values()],
        odd,
    )
    return row, paired_replicates(list(groups.values()), n_boot, rng)


def separate_speedup(
    at: pd.DataFrame, baseline: str, device: str, n_boot: int, confidence: float, rng
):
    """A separate scale: the ratio of the median windows, and its replicates."""

    def windows_of(name):
        w = at[at["device"] == name]
        return {p: g["step_median_s"].to_numpy() for p, g in w.groupby("process")}

    b, d = windows_of(baseline), windows_of(device)
    common = sorted(set(b) & set(d))
    b_all, d_all = (
        np.concatenate([b[p] for p in common]),
        np.concatenate([d[p] for p in common]),
    )
    # No paired ratios: a process is odd if its step times disagree with the same
    # device's other processes.
    odd = [
        f"process {o['process']} of {name}: step {fmt_time(o['median'])}, the "
        f"others {fmt_time(o['others_median'])}"
        for name, w in ((baseline, b), (device, d))
        for o in disagreeing(w, confidence)
    ]
    row = _row(
        SEPARATE,
        float(np.median(b_all) / np.median(d_all)),
        len(d_all),
        [float(np.median(b[p]) / np.median(d[p])) for p in common],
        odd,
    )
    rep = separate_replicates(
        [b[p] for p in common], [d[p] for p in common], n_boot, rng
    )
    return row, rep


def _row(
    pairing: str, estimate: float, rounds: int, per_process: list[float], odd: list[str]
) -> dict:
    return {
        "pairing": pairing,
        "speedup": estimate,
        "rounds": rounds,
        "processes": len(per_process),
        "process_speedups": ";".join(f"{v:.4g}" for v in per_process),
        "disagreeing": "; ".join(odd),
    }
