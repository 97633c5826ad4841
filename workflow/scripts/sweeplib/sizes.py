"""Layer sizes of the post's classifier (no torch here: the workflow plans with it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelSizes:
    """Layer widths of ``Linear(i, h1) -> ReLU -> Linear(h1, h2) -> ReLU -> Linear(h2, o)``."""

    num_inputs: int
    hidden1: int
    hidden2: int
    num_outputs: int = 2

    @classmethod
    def for_scale(cls, scale: int) -> "ModelSizes":
        # The post sizes everything from one knob: 100, 300 and 200 units per unit of scale.
        return cls(num_inputs=100 * scale, hidden1=300 * scale, hidden2=200 * scale)

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(in_features, out_features) of each Linear layer, in order."""
        return [
            (self.num_inputs, self.hidden1),
            (self.hidden1, self.hidden2),
            (self.hidden2, self.num_outputs),
        ]

    @property
    def num_params(self) -> int:
        return sum(i * o + o for i, o in self.layer_shapes)

    @property
    def first_layer_params(self) -> int:
        i, o = self.layer_shapes[0]
        return i * o + o

    def to_dict(self) -> dict:
        return asdict(self)

    def bytes_per_step(self) -> int:
        """Bytes of weights and gradients a float32 SGD step moves (docs/METHOD.md).

        Per parameter: forward reads the weight (4); backward reads it again to
        propagate the gradient to the layer below (4; not for the first layer,
        whose input needs no gradient) and writes its gradient (4); the SGD
        update reads weight and gradient and writes the weight (12).
        Activations (batch x width) are negligible beside the weights.
        """
        return 24 * self.num_params - 4 * self.first_layer_params
