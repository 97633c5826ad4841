"""The inference check: a reloaded checkpoint must predict what the trained model
predicted, in the precision it was trained and evaluated in (``timing.autocast``:
the checkpoint holds float32 weights either way; under ``bfloat16`` the reloaded
model predicts under autocast again, as the evaluation after training did)."""

from __future__ import annotations

import time

import numpy as np
import torch

from .timing import autocast

# Same device, same batches, same kernels: the logits should agree to float32
# rounding; these bounds leave room for a kernel library that picks a different
# algorithm in a new process.
RTOL = 1e-4
ATOL = 1e-5
# bfloat16 (autocast): the reload casts the same float32 weights to the same
# bfloat16 copies and runs the same kernels, so a faithful reload agrees bit for bit
# (measured on a CPU with AMX: max |diff| 0, with other thread counts and batch sizes
# too). A kernel that sums in another order in a new process changes a float32
# accumulation by float32 rounding, and the bfloat16 rounding of each layer's output
# can then go the other way: a logit moves by one bfloat16 step (8 significant bits:
# at most 2**-7 of its size), and a hidden unit's step moves a logit near zero by
# some 1e-4 to 1e-3. Hence rtol 2**-7 and atol 1e-3: a reload of other weights or of
# another model differs by the logits' own size and is refused. These bounds do not
# reliably tell a float32 prediction of the same weights from a bfloat16 one (they
# differ by about 2e-3 at scale 1): the check's row names the precision it predicted
# in.
TOLERANCES = {"float32": (RTOL, ATOL), "bfloat16": (2**-7, 1e-3)}


class InferenceMismatch(AssertionError):
    """The reloaded model does not reproduce the predictions recorded at the end of
    training."""


def tolerance(precision: str) -> tuple[float, float]:
    """(rtol, atol) of the check of logits predicted in ``precision``."""
    return TOLERANCES[precision]


def predict_batches(
    model,
    X: torch.Tensor,
    batch_size: int,
    device,
    sync,
    warmup: int = 2,
    precision: str = "float32",
) -> tuple[torch.Tensor, list[float]]:
    """Logits for ``X`` in order (float32, on the CPU), and the synchronised time of
    each batch (after ``warmup`` untimed batches), predicted in ``precision``."""
    model.eval()
    batches = list(torch.split(X, batch_size))
    times, chunks = [], []
    with torch.no_grad(), autocast(device, precision):
        for x in batches[: min(warmup, len(batches))]:
            model(x.to(device))
        for x in batches:
            sync()
            t0 = time.perf_counter()
            chunks.append(model(x.to(device)))
            sync()
            times.append(time.perf_counter() - t0)
    return torch.cat(chunks).cpu().float(), times


def compare(
    logits: torch.Tensor,
    reference: torch.Tensor,
    labels: torch.Tensor,
    where: str,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> dict:
    """Check the logits against the reference, within ``rtol`` and ``atol``
    (``tolerance``); raise InferenceMismatch with what differs."""
    if logits.shape != reference.shape:
        raise InferenceMismatch(
            f"{where}: logits of shape {tuple(logits.shape)}, recorded "
            f"{tuple(reference.shape)}"
        )
    # A diverged model (lr 0.5 can do that) has non-finite logits; reproducing them
    # exactly is still a faithful reload, so NaN matches NaN here and the count is
    # reported.
    diff = (logits - reference).abs().nan_to_num(nan=0.0)
    close = torch.allclose(logits, reference, rtol=rtol, atol=atol, equal_nan=True)
    same = torch.equal(logits.argmax(1), reference.argmax(1))
    if not (close and same):
        bad = int(
            (~torch.isclose(logits, reference, rtol=rtol, atol=atol, equal_nan=True))
            .any(1)
            .sum()
        )
        raise InferenceMismatch(
            f"{where}: the reloaded model's logits differ from those recorded after "
            f"training (max |diff| {diff.max().item():.3g}, {bad} of {len(logits)} "
            f"samples outside rtol={rtol:g}, atol={atol:g}; predicted classes "
            f"{'equal' if same else 'differ'})"
        )
    return {
        "max_abs_diff": diff.max().item(),
        "predictions_equal": same,
        "nonfinite_logits": int((~torch.isfinite(logits)).sum()),
        "accuracy": (logits.argmax(1) == labels).float().mean().item(),
    }


def check(
    model,
    data: dict,
    reference: torch.Tensor,
    batch_size: int,
    device,
    sync,
    where: str,
    precision: str = "float32",
) -> dict:
    """Predict the test set again in ``precision`` and compare with ``reference``
    within that precision's ``tolerance``; the check's figures and timings."""
    logits, times = predict_batches(
        model, data["X_test"], batch_size, device, sync, precision=precision
    )
    out = compare(logits, reference, data["Y_test"], where, *tolerance(precision))
    q25, median, q75 = np.percentile(times, [25, 50, 75])
    return {
        **out,
        "batches": len(times),
        "infer_batch_median_s": float(median),
        "infer_batch_q25_s": float(q25),
        "infer_batch_q75_s": float(q75),
    }
