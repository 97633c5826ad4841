"""The post's classifier, described once: its layer widths, parameter count and the
bytes a training step moves (no torch here: the workflow plans with it)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal

from .devices import PRECISIONS

# The post sizes everything from one knob: 100, 300 and 200 units per unit of
# scale, and two outputs.
WIDTHS_PER_SCALE = (100, 300, 200)
NUM_OUTPUTS = 2
BYTES_PER_FLOAT = 4  # float32
BYTES_PER_BFLOAT16 = 2
STATE_BYTES_PER_PARAM = 2 * BYTES_PER_FLOAT  # a weight and its gradient (float32)
# The post's training, which its table timed whole: 10 epochs of 1,000 samples in
# batches of 10.
POST_STEPS = 10 * 1000 // 10


@dataclass(frozen=True)
class ModelSizes:
    """Layer widths of ``Linear(i, h1) -> ReLU -> Linear(h1, h2) -> ReLU -> Linear(h2,
    o)``."""

    num_inputs: int
    hidden1: int
    hidden2: int
    num_outputs: int = NUM_OUTPUTS

    @classmethod
    def for_scale(cls, scale: float) -> ModelSizes:
        """The post's widths at ``scale`` (any positive number with at most two
        decimals): 100, 300 and 200 units per unit of scale, rounded half up."""
        i, h1, h2 = widths_of(scale)
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

    def bytes_per_step(self, precision: str = "float32") -> int:
        """Bytes of weights and gradients an SGD step in ``precision`` moves
        (docs/METHOD.md).

        float32, per parameter: forward reads the weight (4); backward reads it
        again to propagate the gradient to the layer below (4; not for the first
        layer, whose input needs no gradient) and writes its gradient (4); the SGD
        update reads weight and gradient and writes the weight (12). 24 in all, 20
        for the first layer's.

        bfloat16 (autocast, float32 master weights), per parameter: autocast casts
        the float32 weight to a bfloat16 copy each step (read 4, write 2); forward
        reads the copy (2); backward reads it again for the input's gradient (2;
        not for the first layer); the backward's matrix product writes the
        gradient of the bfloat16 copy in bfloat16 (2), which the cast's backward
        reads (2) and writes as the float32 gradient (4); the SGD update reads the
        float32 weight and gradient and writes the weight (12). 30 in all, 28 for
        the first layer's: more than float32's, since the master weights and their
        update stay float32 and the cast adds its own traffic (torch's eager
        autograd: ``AddmmBackward0`` then ``ToCopyBackward0``).
        Activations (batch x width) are negligible beside the weights.
        """
        if precision == "float32":
            per_param, input_grad = 6 * BYTES_PER_FLOAT, BYTES_PER_FLOAT
        elif precision == "bfloat16":
            per_param, input_grad = 30, BYTES_PER_BFLOAT16
        else:
            raise ValueError(_unknown(precision))
        return per_param * self.num_params - input_grad * self.first_layer_params

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


def state_bytes_per_param(precision: str = "float32") -> int:
    """Bytes per parameter a step's weights and gradients occupy, which it streams
    through the cache: float32, the weight and its gradient (8,
    ``STATE_BYTES_PER_PARAM``); bfloat16 (autocast), those and the bfloat16 copy
    of the weight that the forward and the backward read (10). The bfloat16
    gradient of that copy lives only until its cast to float32, a layer at a time,
    and is not counted."""
    if precision == "float32":
        return STATE_BYTES_PER_PARAM
    if precision == "bfloat16":
        return STATE_BYTES_PER_PARAM + BYTES_PER_BFLOAT16
    raise ValueError(_unknown(precision))


def _unknown(precision: str) -> str:
    return f"precision {precision!r} is not one of {', '.join(map(repr, PRECISIONS))}"


def canonical_scale(scale) -> int | float:
    """A scale as one value whatever its spelling (``1``, ``1.0``, ``"1.50"``): an int
    when whole, else a float of at most two decimals. Its text names folders and goes
    into keys, so ``1.5`` (``scale1.5``) and ``15`` (``scale15``) never collide."""
    d = Decimal(str(scale))
    if d == d.to_integral_value():
        return int(d)
    return float(d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def decimals(scale) -> int:
    """How many decimals a scale is written with (``1.25`` has 2)."""
    exponent = Decimal(str(scale)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def widths_of(scale) -> tuple[int, int, int]:
    """The three widths at ``scale``, each ``units x scale`` rounded half up; a width
    that rounds to 0 is refused."""
    d = Decimal(str(scale))
    widths = tuple(
        int((w * d).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        for w in WIDTHS_PER_SCALE
    )
    if min(widths) < 1:
        raise ValueError(f"scale {scale} gives the layer widths {widths}")
    return widths


def params_of_scale(scale: float) -> float:
    """Parameters of the model at a scale, as a smooth function of it, a s² + b s + c
    (exact at whole scales; the rounded widths of other scales give the exact count,
    ``ModelSizes.for_scale(s).num_params``)."""
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
