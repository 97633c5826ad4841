"""Part 1 of the post: a five-point toy problem, trained exactly as the post does."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import make_loader
from .model import NeuralNetwork
from .sizes import ModelSizes

SIZES = ModelSizes(num_inputs=2, hidden1=30, hidden2=20, num_outputs=2)
X_TRAIN = torch.tensor(
    [[-1.2, 3.1], [-0.9, 2.9], [-0.5, 2.6], [2.3, -1.1], [2.7, -1.5]]
)
Y_TRAIN = torch.tensor([0, 0, 0, 1, 1])
X_TEST = torch.tensor([[-0.8, 2.8], [2.6, -1.6]])
Y_TEST = torch.tensor([0, 1])


def train_toy(
    seed: int = 123, epochs: int = 3, lr: float = 0.5
) -> tuple[NeuralNetwork, list[dict], list[dict]]:
    """Train the toy model; return it, one record per batch (with its loss) and one per
    evaluation.

    The random stream is consumed in the post's order: seed, build the model, then one
    shuffle per epoch drawn when the training loader starts a pass. The loaders are
    built before the model, as in the post; building one draws nothing.
    """
    torch.manual_seed(seed)
    train_loader = make_loader(
        X_TRAIN, Y_TRAIN, kind="dataloader", batch_size=2, shuffle=True, drop_last=True
    )
    test_loader = make_loader(
        X_TEST, Y_TEST, kind="dataloader", batch_size=2, shuffle=False
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


def predict(model: NeuralNetwork, X: torch.Tensor) -> torch.Tensor:
    """The post's inference snippet (with its ``mmodel`` typo fixed)."""
    model.eval()
    with torch.no_grad():
        return torch.argmax(model(X), dim=-1)
