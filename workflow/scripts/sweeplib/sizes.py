"""The post's classifier, described once: its layer widths, parameter count and the
bytes a training step moves (no torch here: the workflow plans with it)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# The post sizes everything from one knob: 100, 300 and 200 units per unit of
# scale, and two outputs.
WIDTHS_PER_SCALE = (100, 300, 200)
NUM_OUTPUTS = 2
BYTES_PER_FLOAT = 4  # float32
STATE_BYTES_PER_PARAM = 2 * BYTES_PER_FLOAT  # a weight and its gradient


@dataclass(frozen=True)
class ModelSizes:
    """Layer widths of ``Linear(i, h1) -> ReLU -> Linear(h1, h2) -> ReLU -> Linear(h2,
    o)``."""

    num_inputs: int
    hidden1: int
    hidden2: int
    num_outputs: int = NUM_OUTPUTS

    @classmethod
    def for_scale(cls, scale: int) -> ModelSizes:
        i, h1, h2 = (w * scale for w in WIDTHS_PER_SCALE)
        return cls(num_inputs=i, hidden1=h1, hidden2=h2)

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
        return (
            6 * BYTES_PER_FLOAT * self.num_params
            - BYTES_PER_FLOAT * self.first_layer_params
        )

    def flops_per_step(self, batch_size: int) -> int:
        """Floating-point operations a float32 SGD step needs at least
        (docs/METHOD.md): 2 per weight and sample in each of the forward product,
        the weight's gradient and the gradient of the layer's input (not for the
        first layer), and 2 per parameter in the update."""
        weights = [i * o for i, o in self.layer_shapes]
        matrix = 2 * batch_size * (3 * sum(weights) - weights[0])
        return matrix + 2 * self.num_params

    def activation_floats(self, batch_size: int) -> int:
        """Floats of one batch's activations: the input, each hidden layer before
        and after its ReLU, the logits and their gradient."""
        widths = self.num_inputs + 2 * (self.hidden1 + self.hidden2 + self.num_outputs)
        return batch_size * widths

    @staticmethod
    def architecture() -> str:
        """The model as the report writes it, in terms of the scale ``s``."""
        i, h1, h2 = WIDTHS_PER_SCALE
        return (
            f"Linear({i}s, {h1}s) → ReLU → Linear({h1}s, {h2}s) → ReLU → Linear({h2}s, "
            f"{NUM_OUTPUTS})"
        )


def params_of_scale(scale: float) -> float:
    """Parameters of the model at a (possibly fractional) scale: a s² + b s + c."""
    a, b, c = _quadratic()
    return a * scale**2 + b * scale + c


def scale_for_params(params: float) -> float:
    """The (fractional) scale whose model has ``params`` parameters."""
    a, b, c = _quadratic()
    return (-b + math.sqrt(b * b + 4 * a * (params - c))) / (2 * a)


def _quadratic() -> tuple[int, int, int]:
    """Coefficients of the parameter count in the scale, from the widths.

    Weights grow with the square of the scale (i h1 + h1 h2 per unit), biases
    and the last layer's weights linearly (h1 + h2 + h2 o), the last bias is o.
    """
    i, h1, h2 = WIDTHS_PER_SCALE
    return i * h1 + h1 * h2, h1 + h2 + h2 * NUM_OUTPUTS, NUM_OUTPUTS
