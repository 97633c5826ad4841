"""The inference check: a reloaded checkpoint must predict what the trained model
predicted."""

from __future__ import annotations

import time

import numpy as np
import torch

# Same device, same batches, same kernels: the logits should agree to float32
# rounding; these bounds leave room for a kernel library that picks a different
# algorithm in a new process.
RTOL = 1e-4
ATOL = 1e-5


class InferenceMismatch(AssertionError):
    """The reloaded model does not reproduce the predictions recorded at the end of
    training."""


def predict_batches(
    model, X: torch.Tensor, batch_size: int, device, sync, warmup: int = 2
) -> tuple[torch.Tensor, list[float]]:
    """Logits for ``X`` in order, and the synchronised time of each batch (after
    ``warmup`` untimed batches)."""
    model.eval()
    batches = list(torch.split(X, batch_size))
    times, chunks = [], []
    with torch.no_grad():
        for x in batches[: min(warmup, len(batches))]:
            model(x.to(device))
        for x in batches:
            sync()
            t0 = time.perf_counter()
            chunks.append(model(x.to(device)))
            sync()
            times.append(time.perf_counter() - t0)
    return torch.cat(chunks).cpu(), times


def compare(
    logits: torch.Tensor, reference: torch.Tensor, labels: torch.Tensor, where: str
) -> dict:
    """Check the logits against the reference; raise InferenceMismatch with what
    differs."""
    if logits.shape != reference.shape:
        raise InferenceMismatch(
            f"{where}: logits of shape {tuple(logits.shape)}, recorded "
            f"{tuple(reference.shape)}"
        )
    # A diverged model (lr 0.5 can do that) has non-finite logits; reproducing them
    # exactly is still a faithful reload, so NaN matches NaN here and the count is
    # reported.
    diff = (logits - reference).abs().nan_to_num(nan=0.0)
    close = torch.allclose(logits, reference, rtol=RTOL, atol=ATOL, equal_nan=True)
    same = torch.equal(logits.argmax(1), reference.argmax(1))
    if not (close and same):
        bad = int(
            (~torch.isclose(logits, reference, rtol=RTOL, atol=ATOL, equal_nan=True))
            .any(1)
            .sum()
        )
        raise InferenceMismatch(
            f"{where}: the reloaded model's logits differ from those recorded after "
            f"training (max |diff| {diff.max().item():.3g}, {bad} of {len(logits)} "
            f"samples outside rtol={RTOL}, atol={ATOL}; predicted classes "
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
) -> dict:
    logits, times = predict_batches(model, data["X_test"], batch_size, device, sync)
    out = compare(logits, reference, data["Y_test"], where)
    q25, median, q75 = np.percentile(times, [25, 50, 75])
    return {
        **out,
        "batches": len(times),
        "infer_batch_median_s": float(median),
        "infer_batch_q25_s": float(q25),
        "infer_batch_q75_s": float(q75),
    }
