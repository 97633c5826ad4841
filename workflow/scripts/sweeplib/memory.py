"""How much memory a scale's processes need, estimated before anything is allocated.

One model of P float32 parameters (4 bytes each) being trained holds:

- weights 4P and gradients 4P (plain SGD keeps no optimiser state);
- one batch's activations, doubled for autograd (``ModelSizes.activation_floats``);
- on an accelerator, saving the checkpoint first copies the weights to host
  memory: 4P more there, one model at a time.

A process also holds the interpreter with torch and its libraries (400 MiB: a
fresh process training scale 1 peaked at 336 MiB resident, VmHWM, on Linux
x86-64 with torch 2.13, rounded up so the estimate errs on the safe side) and
the scale's dataset: 4 bytes per feature and 8 per label, once, shared by the
process's models.

Memory comes in pools (``devices.memory_pool``): host memory, shared by the
CPU devices and by Apple's MPS, and a CUDA device's own. A timing process that
interleaves every device holds all their models at once; when they do not fit
in their pools together, each device is timed in processes of its own. The
inference check loads one device's checkpoint at a time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .devices import ACCELERATORS, memory_pool
from .sizes import BYTES_PER_FLOAT, ModelSizes

RUNTIME = 400 * 2**20
HEADROOM = 0.9  # a tenth of the free memory is left to the OS and other programs


@dataclass(frozen=True)
class ModelFootprint:
    weights: int
    gradients: int
    activations: int
    checkpoint_copy: int  # host bytes to save an accelerator's weights

    @property
    def training(self) -> int:
        return self.weights + self.gradients + self.activations

    @property
    def reload(self) -> int:
        return self.weights + self.activations


def model_footprint(sizes: ModelSizes, batch_size: int, device: str) -> ModelFootprint:
    weights = BYTES_PER_FLOAT * sizes.num_params
    return ModelFootprint(
        weights=weights,
        gradients=weights,
        activations=2 * BYTES_PER_FLOAT * sizes.activation_floats(batch_size),
        checkpoint_copy=weights if device in ACCELERATORS else 0,
    )


def data_bytes(sizes: ModelSizes, n_train: int, n_test: int) -> int:
    n = n_train + n_test
    return BYTES_PER_FLOAT * n * sizes.num_inputs + 8 * n


def run_footprint(settings: dict) -> tuple[dict[str, ModelFootprint], int]:
    """Each device's model footprint and the dataset's bytes, from a scale's run
    settings (``keys.scale_run_settings``)."""
    sizes = ModelSizes(**settings["sizes"])
    batch_size, data = settings["train"]["batch_size"], settings["data"]
    models = {
        d["name"]: model_footprint(sizes, batch_size, d["name"])
        for d in settings["devices"]
    }
    return models, data_bytes(sizes, data["n_train"], data["n_test"])


def timing_needs(models: dict[str, ModelFootprint], data: int) -> dict[str, int]:
    """Bytes per memory pool of a timing process training ``models`` side by side."""
    needs: dict[str, int] = defaultdict(int)
    needs["host"] += (
        RUNTIME + data + max((m.checkpoint_copy for m in models.values()), default=0)
    )
    for device, m in models.items():
        needs[memory_pool(device)] += m.training
    return dict(needs)


def check_needs(models: dict[str, ModelFootprint], data: int) -> dict[str, int]:
    """Bytes per memory pool of the inference check (it reloads one model at a time)."""
    needs: dict[str, int] = defaultdict(int)
    needs["host"] += RUNTIME + data
    for pool in {memory_pool(d) for d in models}:
        needs[pool] += max(
            m.reload for d, m in models.items() if memory_pool(d) == pool
        )
    return dict(needs)


def fits(needs: dict[str, int], free: dict[str, int]) -> bool:
    return all(n <= HEADROOM * free[pool] for pool, n in needs.items())


def shortfall(needs: dict[str, int], free: dict[str, int]) -> str:
    """What does not fit, in words."""
    short = [
        f"{gib(n)} of {pool} memory, {gib(free[pool])} available"
        for pool, n in needs.items()
        if n > HEADROOM * free[pool]
    ]
    return "needs about " + "; ".join(short)


def available_memory(pool: str) -> int:
    """Bytes a pool can still give: free RAM for the host, free memory for CUDA."""
    if pool == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"
