"""How much memory a run needs, estimated before anything is allocated.

The estimate for one (scale, device) job, in bytes, with P parameters stored
as float32 (4 bytes each):

- weights 4P, gradients 4P (plain SGD keeps no optimiser state);
- the evaluation pass's logits and every activation of one batch:
  4 x batch x (inputs + 2 x (h1 + h2) + 2 x outputs), doubled for autograd;
- the dataset: 4 x (n_train + n_test) x inputs, plus the labels (8 bytes each);
- saving the checkpoint copies nothing on the CPU, but an accelerator's
  weights are copied to host memory first: 4P more host memory there;
- the inference check later reloads the checkpoint in its own process: 4P.

- the process itself (interpreter, torch and its libraries): 400 MiB; a
  fresh process training scale 1 peaked at 336 MiB resident (VmHWM) on
  Linux x86-64 with torch 2.13, rounded up so the estimate errs on the
  safe side.

Training and the check run in separate processes and never at once, so the
footprint of a run is the larger of the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from .sizes import ModelSizes

BYTES = 4  # float32
RUNTIME = 400 * 2**20


@dataclass(frozen=True)
class Footprint:
    weights: int
    gradients: int
    activations: int
    data: int
    checkpoint_copy: int
    reload: int
    runtime: int = RUNTIME

    @property
    def training(self) -> int:
        return self.runtime + self.weights + self.gradients + self.activations + self.data + self.checkpoint_copy

    @property
    def total(self) -> int:
        return max(self.training, self.runtime + self.reload + self.data + self.activations)


def estimate(sizes: ModelSizes, batch_size: int, n_train: int, n_test: int, accelerator: bool) -> Footprint:
    p = sizes.num_params
    widths = sizes.num_inputs + 2 * (sizes.hidden1 + sizes.hidden2) + 2 * sizes.num_outputs
    return Footprint(
        weights=BYTES * p,
        gradients=BYTES * p,
        activations=2 * BYTES * batch_size * widths,
        data=BYTES * (n_train + n_test) * sizes.num_inputs + 8 * (n_train + n_test),
        checkpoint_copy=BYTES * p if accelerator else 0,
        reload=BYTES * p,
    )


def available_memory(device: str) -> int:
    """Bytes the device can still give: free RAM for the CPU and MPS, free device memory for CUDA."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def fits(footprint: Footprint, available: int, headroom: float = 0.9) -> bool:
    """Whether a run fits, keeping a tenth of the memory for the interpreter and the OS."""
    return footprint.total <= headroom * available


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"
