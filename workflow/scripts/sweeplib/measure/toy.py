"""Part 1 of the post: a five-point toy problem, trained exactly as the post does.

The problem and its protocol are plain values here (the report reads them without
torch); the functions below import torch.
"""

from __future__ import annotations

from ..common.sizes import ModelSizes

SIZES = ModelSizes(num_inputs=2, hidden1=30, hidden2=20, num_outputs=2)
X_TRAIN = [[-1.2, 3.1], [-0.9, 2.9], [-0.5, 2.6], [2.3, -1.1], [2.7, -1.5]]
Y_TRAIN = [0, 0, 0, 1, 1]
X_TEST = [[-0.8, 2.8], [2.6, -1.6]]
Y_TEST = [0, 1]
# The post's protocol, stated once (the job's log and the report read it here).
SEED, EPOCHS, LR, BATCH_SIZE = 123, 3, 0.5, 2
# drop_last: the post's loader drops the fifth sample's short batch.
BATCHES_PER_EPOCH = len(X_TRAIN) // BATCH_SIZE


def tensors() -> dict:
    """The toy data as the post's tensors."""
    import torch

    return {
        "X_train": torch.tensor(X_TRAIN),
        "Y_train": torch.tensor(Y_TRAIN),
        "X_test": torch.tensor(X_TEST),
        "Y_test": torch.tensor(Y_TEST),
    }


def train_toy(seed: int = SEED, epochs: int = EPOCHS, lr: float = LR):
    """Train the toy model; return it, one record per batch (with its loss) and one per
    evaluation.

    The random stream is consumed in the post's order: seed, build the model, then one
    shuffle per epoch drawn when the training loader starts a pass. The loaders are
    built before the model, as in the post; building one draws nothing.
    """
    import torch
    import torch.nn.functional as F

    from .data import make_loader
    from .model import NeuralNetwork

    data = tensors()
    torch.manual_seed(seed)
    train_loader = make_loader(
        data["X_train"],
        data["Y_train"],
        kind="dataloader",
        batch_size=BATCH_SIZE,
        shuffle=True,
        drop_last=True,
    )
    test_loader = make_loader(
        data["X_test"],
        data["Y_test"],
        kind="dataloader",
        batch_size=BATCH_SIZE,
        shuffle=False,
    )
    model = NeuralNetwork(SIZES)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    batches, evals = [], []
    for epoch in range(epochs):
        model.train()
        for batch_idx, (x, y) in enumerate(train_loader):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            batches.append(
                {"epoch": epoch + 1, "batch": batch_idx + 1, "loss": loss.item()}
            )
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for x, y in test_loader:
                correct += int((model(x).argmax(dim=1) == y).sum())
                total += len(y)
        evals.append({"epoch": epoch + 1, "accuracy": correct / total})
    return model, batches, evals


def predict(model, X):
    """The post's inference snippet (with its ``mmodel`` typo fixed): the classes the
    model predicts for the tensor ``X``."""
    import torch

    model.eval()
    with torch.no_grad():
        return torch.argmax(model(X), dim=-1)
