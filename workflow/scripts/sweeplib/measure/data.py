"""Synthetic data of the post (random features, random binary labels), its files and
loaders."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

LOADERS = ("dataloader", "tensor")


def make_dataset(
    num_inputs: int, n_train: int, n_test: int, seed: int
) -> dict[str, torch.Tensor]:
    """Features ~ N(0, 1) and labels in {0, 1}, drawn on the CPU from one seeded
    generator.

    The draws come in the post's order (train features, train labels, test features,
    test labels); unlike the post, they are seeded, so every run of a scale trains on
    the same bytes.
    """
    g = torch.Generator().manual_seed(seed)
    return {
        "X_train": torch.randn(n_train, num_inputs, generator=g),
        "Y_train": torch.randint(0, 2, (n_train,), generator=g),
        "X_test": torch.randn(n_test, num_inputs, generator=g),
        "Y_test": torch.randint(0, 2, (n_test,), generator=g),
    }


def dataset_sha256(data: dict[str, torch.Tensor]) -> str:
    """A digest of the tensors' names, shapes, dtypes and bytes (independent of file
    format)."""
    h = hashlib.sha256()
    for name in sorted(data):
        t = data[name].contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


class MyDataset(Dataset):
    """The post's Dataset: one (x, y) sample per ``__getitem__``."""

    def __init__(self, X: torch.Tensor, Y: torch.Tensor):
        super().__init__()
        self.X = X
        self.Y = Y

    def __getitem__(self, index):
        return self.X[index], self.Y[index]

    def __len__(self):
        return self.X.shape[0]


class TensorBatches:
    """Pre-batched loading: a shuffled permutation sliced per batch, no per-sample
    Python.

    Draws its permutation at the start of each pass, from ``generator`` (or the global
    generator), as ``DataLoader``'s ``RandomSampler`` draws its order.
    """

    def __init__(
        self,
        X,
        Y,
        batch_size: int,
        shuffle: bool,
        drop_last: bool = False,
        generator=None,
    ):
        self.X, self.Y = X, Y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator

    def __len__(self) -> int:
        n = self.X.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = self.X.shape[0]
        order = (
            torch.randperm(n, generator=self.generator)
            if self.shuffle
            else torch.arange(n)
        )
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield self.X[idx], self.Y[idx]


def make_loader(
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    kind: str,
    batch_size: int,
    shuffle: bool,
    num_workers: int = 0,
    drop_last: bool = False,
    generator: torch.Generator | None = None,
):
    """The loader named by the config: ``dataloader`` (the post's) or ``tensor``
    (pre-batched).

    With a ``generator``, the shuffles are drawn from it rather than from the global
    generator, so loaders trained side by side in one process do not draw from each
    other's stream.
    """
    if kind == "dataloader":
        return DataLoader(
            MyDataset(X, Y),
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            num_workers=num_workers,
            # Without persistence every epoch would restart the workers, and
            # their start-up would land in the first timed step of the epoch.
            persistent_workers=num_workers > 0,
            generator=generator,
        )
    if kind == "tensor":
        if num_workers:
            raise ValueError(
                "loader 'tensor' runs in the training process; num_workers must be 0, "
                f"got {num_workers}"
            )
        return TensorBatches(X, Y, batch_size, shuffle, drop_last, generator)
    raise ValueError(f"unknown loader {kind!r}; allowed: {', '.join(LOADERS)}")


def load_dataset(path: str | Path) -> dict[str, torch.Tensor]:
    """A dataset file written by ``make_dataset`` (plain tensors only)."""
    return torch.load(path, map_location="cpu", weights_only=True)
