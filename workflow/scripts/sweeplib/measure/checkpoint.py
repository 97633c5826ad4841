"""Self-describing checkpoints: the weights plus the model's sizes and run metadata."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ..common.atomic import torch_save
from ..common.sizes import ModelSizes
from .model import NeuralNetwork

FORMAT = "mlp-checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be trusted: unreadable, truncated, or not of this
    format."""


def save_checkpoint(path: str | Path, model: NeuralNetwork, meta: dict) -> None:
    """Write weights (moved to the CPU) with everything needed to rebuild the model."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch_save(
        path,
        {
            "format": FORMAT,
            "sizes": model.sizes.to_dict(),
            "state_dict": state,
            "meta": dict(meta),
        },
    )


def load_checkpoint(path: str | Path, device="cpu") -> tuple[NeuralNetwork, dict]:
    """Rebuild the model from the checkpoint alone (never from the current config).

    Only plain tensors and containers are accepted (``weights_only=True``): a
    checkpoint carrying any other pickled object is refused, not executed. The
    weights are mapped from the file rather than copied, and the model is built
    without initialising weights it would at once overwrite (seconds at 900M
    parameters).
    """
    ckpt = _load_tensors(path, "checkpoint", mmap=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(
            f"checkpoint {path} is not a {FORMAT} checkpoint (found {found!r})"
        )
    try:
        with torch.device("meta"):
            model = NeuralNetwork(ModelSizes(**ckpt["sizes"]))
        model.load_state_dict(ckpt["state_dict"], assign=True)
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(
            f"checkpoint {path} does not match the model it describes: {exc}"
        ) from exc
    return model.to(device), ckpt["meta"]


def load_predictions(path: str | Path, run_key: str) -> torch.Tensor:
    """The test-set logits recorded at the end of a run's training (``training.py``
    writes ``{"logits", "run_key"}``); CheckpointError, naming the file and what is
    wrong, for one that is unreadable, of another form, or of another run."""
    saved = _load_tensors(
        path, "predictions", "; delete its run's timings.csv to measure the run again"
    )
    logits = saved.get("logits") if isinstance(saved, dict) else None
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
        held = sorted(map(str, saved)) if isinstance(saved, dict) else "-"
        raise CheckpointError(
            f"predictions {path} hold no logits of shape (samples, classes) (found "
            f"{type(saved).__name__} with {held})"
        )
    if saved.get("run_key") != run_key:
        raise CheckpointError(
            f"predictions {path} are of run {saved.get('run_key')!r}, not of this "
            f"run {run_key!r}"
        )
    return logits


def _load_tensors(path: str | Path, what: str, advice: str = "", mmap: bool = False):
    """A file of plain tensors, loaded onto the CPU without running any pickled
    code; CheckpointError naming ``what`` and the file when it cannot be."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = (
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        )
        raise CheckpointError(
            f"{what} {path} cannot be loaded safely (truncated, corrupted, or not "
            f"plain tensors): {first}{advice}"
        ) from exc
