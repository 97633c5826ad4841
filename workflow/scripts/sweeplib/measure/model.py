"""The post's binary classifier, sized by ``ModelSizes``."""

from __future__ import annotations

import torch

from ..common.sizes import ModelSizes


class NeuralNetwork(torch.nn.Module):
    """The post's MLP, written once for every size (the toy example included)."""

    def __init__(self, sizes: ModelSizes):
        super().__init__()
        self.sizes = sizes
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(sizes.num_inputs, sizes.hidden1),
            torch.nn.ReLU(),
            torch.nn.Linear(sizes.hidden1, sizes.hidden2),
            torch.nn.ReLU(),
            torch.nn.Linear(sizes.hidden2, sizes.num_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def count_params(model: torch.nn.Module) -> int:
    """Trainable parameters, counted as the post counts them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
