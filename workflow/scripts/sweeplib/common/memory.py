"""How much memory a scale's processes need, estimated before anything is allocated.

One model of P float32 parameters (4 bytes each) being trained holds:

- weights 4P and gradients 4P (plain SGD keeps no optimiser state);
- one batch's activations, doubled for autograd (``ModelSizes.activation_floats``);
- on an accelerator, saving the checkpoint first copies the weights to host
  memory: 4P more there, one model at a time.

Trained in bfloat16 (autocast, float32 master weights), it holds the same float32
weights and gradients, and also (``model_footprint``) the bfloat16 copy of every
weight that autocast makes for the forward and the backward keeps (2P), the
bfloat16 gradient of the largest layer's copy before its cast to float32, and
activations partly in bfloat16.

A process also holds the interpreter with torch and its libraries, in host
memory (``RUNTIME``, by the heaviest device it holds), and the scale's
dataset: 4 bytes per feature and 8 per label, once, shared by the process's
models. A process that uses CUDA also holds a CUDA context on the device
(``CUDA_CONTEXT``).

Memory comes in pools (``devices.memory_pool``): host memory, shared by the
CPU devices and by Apple's MPS, and a CUDA device's own. A timing process that
interleaves every device holds all their models at once; when they do not fit
in their pools together, each device is timed in processes of its own. The
inference check loads one device's checkpoint at a time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .devices import ACCELERATORS, PRECISIONS, memory_pool
from .sizes import BYTES_PER_BFLOAT16, BYTES_PER_FLOAT, ModelSizes

MIB, GIB = 2**20, 2**30
# Host memory of the interpreter with torch and what a device loads, per device kind.
RUNTIME = {
    # Measured: a fresh process training scale 1 peaked at 336 MiB resident (VmHWM),
    # Linux x86-64, torch 2.13 CPU wheel; rounded up to err on the safe side.
    "cpu": 400 * MIB,
    # Not measured here. A CUDA process maps libtorch_cuda, cuBLAS and cuDNN and keeps
    # the CUDA runtime's host state; processes doing no more than that are commonly
    # reported at 1-3 GB resident. Generous, so a cluster job is not killed at start.
    "cuda": 3 * GIB,
    # Not measured here: the Metal runtime on top of the CPU's; generous.
    "mps": 1 * GIB,
}
# GPU memory of the worker's own CUDA context and cuBLAS workspace (not measured here;
# a context takes a few hundred MB, more with eager module loading): generous.
CUDA_CONTEXT = 1 * GIB
HEADROOM = 0.9  # a tenth of the free memory is left to the OS and other programs


@dataclass(frozen=True)
class ModelFootprint:
    weights: int
    gradients: int
    activations: int
    checkpoint_copy: int  # host bytes to save an accelerator's weights
    # bfloat16: the transient bfloat16 copies of the weights autocast makes (0 in
    # float32), held in training and in the inference check's reload alike.
    weight_copies: int = 0

    @property
    def training(self) -> int:
        return self.weights + self.gradients + self.activations + self.weight_copies

    @property
    def reload(self) -> int:
        return self.weights + self.activations + self.weight_copies


def model_footprint(
    sizes: ModelSizes, batch_size: int, device: str, precision: str = "float32"
) -> ModelFootprint:
    """One model's memory when trained in ``precision`` (this module's docstring).

    float32: weights and gradients 4 bytes per parameter, activations 4 bytes per
    float of ``ModelSizes.activation_floats``, doubled for autograd.

    bfloat16 (autocast): the same float32 weights and gradients, plus the bfloat16
    copy of every weight (2 bytes per parameter: autocast caches it for the step,
    and the backward keeps it to propagate the gradient) and the bfloat16 gradient
    of the largest layer's copy (2 bytes per its parameter, until its cast to
    float32). Activations: the hidden layers' in bfloat16 (2 bytes), the float32
    input batch with its bfloat16 cast (4 + 2), the bfloat16 logits with the
    float32 cast the loss takes (2 + 4), all doubled for autograd as in float32.
    Conservative: every weight's copy is counted as alive at once (a layer's may be
    freed as soon as its backward is done), and so is the doubling.
    """
    weights = BYTES_PER_FLOAT * sizes.num_params
    if precision == "float32":
        activations = 2 * BYTES_PER_FLOAT * sizes.activation_floats(batch_size)
        copies = 0
    elif precision == "bfloat16":
        both = BYTES_PER_FLOAT + BYTES_PER_BFLOAT16  # a float32 tensor and its cast
        hidden = 2 * (sizes.hidden1 + sizes.hidden2)  # before and after each ReLU
        outputs = 2 * sizes.num_outputs  # the logits and their gradient
        per_sample = (
            both * sizes.num_inputs + BYTES_PER_BFLOAT16 * hidden + both * outputs
        )
        activations = 2 * batch_size * per_sample
        largest = max(i * o + o for i, o in sizes.layer_shapes)
        copies = BYTES_PER_BFLOAT16 * (sizes.num_params + largest)
    else:
        known = ", ".join(map(repr, PRECISIONS))
        raise ValueError(f"precision {precision!r} is not one of {known}")
    return ModelFootprint(
        weights=weights,
        gradients=weights,
        activations=activations,
        checkpoint_copy=weights if device in ACCELERATORS else 0,
        weight_copies=copies,
    )


def data_bytes(sizes: ModelSizes, n_train: int, n_test: int) -> int:
    n = n_train + n_test
    return BYTES_PER_FLOAT * n * sizes.num_inputs + 8 * n


def timing_needs(models: dict[str, ModelFootprint], data: int) -> dict[str, int]:
    """Bytes per memory pool of a timing process training ``models`` side by side."""
    needs = process_needs(models, data)
    needs["host"] += max((m.checkpoint_copy for m in models.values()), default=0)
    for device, m in models.items():
        needs[memory_pool(device)] += m.training
    return dict(needs)


def process_needs(devices, data: int) -> dict[str, int]:
    """What a process holding ``devices`` needs before any model: its runtime and the
    dataset in host memory, and a CUDA context if it uses CUDA."""
    needs: dict[str, int] = defaultdict(int)
    needs["host"] = runtime(devices) + data
    if "cuda" in devices:
        needs["cuda"] = CUDA_CONTEXT
    return needs


def runtime(devices) -> int:
    """Host memory of a process's interpreter and libraries: its heaviest device's."""
    return max(RUNTIME[kind(d)] for d in devices)


def kind(device: str) -> str:
    return "cpu" if device.startswith("cpu") else device


def check_needs(models: dict[str, ModelFootprint], data: int) -> dict[str, int]:
    """Bytes per memory pool of the inference check (it reloads one model at a time)."""
    needs = process_needs(models, data)
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


def available_host_memory() -> int:
    """Bytes of host memory still available to this process: what the OS has free,
    bounded by the memory limit of its control group where one applies (a container,
    ``salloc --mem``, a systemd slice), which ``psutil`` does not see; a process over
    that limit is killed, not refused. (A CUDA device's free memory comes from the
    probe, ``probe.py``: asking here would create a CUDA context.)"""
    import psutil

    free = int(psutil.virtual_memory().available)
    limited = cgroup_available()
    return free if limited is None else min(free, limited)


# Where Linux shows a process's control groups (absent elsewhere: no limit is read).
PROC_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v1 writes "no limit" as a huge number, a page short of 2**63.
V1_UNLIMITED = 2**62


def cgroup_available() -> int | None:
    """Bytes this process's control groups still allow (limit less usage, the
    reclaimable page cache not counted as used), the tightest over the group and its
    ancestors; None where no limit applies or none can be read."""
    found = []
    for controllers, path in _memberships():
        if controllers == "":  # v2: one unified hierarchy
            found += _limits(CGROUP_ROOT, path, "memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            found += _limits(
                CGROUP_ROOT / "memory",
                path,
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
            )
    return min(found) if found else None


def _memberships() -> list[tuple[str, str]]:
    """(controllers, path) of each hierarchy this process belongs to, from
    /proc/self/cgroup ("" as the controllers of cgroup v2's unified one); none where
    it cannot be read."""
    try:
        lines = PROC_CGROUP.read_text().splitlines()
    except OSError:
        return []
    return [tuple(line.split(":", 2)[1:]) for line in lines if line.count(":") >= 2]


def _groups(mount: Path, path: str) -> list[Path]:
    """A group and its ancestors up to the mount's root. In a container, the group's
    path may not exist under the mount, whose root is then the container's own
    group."""
    groups = [mount / path.strip("/")]
    return groups + [g for g in groups[0].parents if mount in g.parents or g == mount]


def _limits(mount: Path, path: str, limit_file: str, usage_file: str) -> list[int]:
    """What each group from ``path`` up to the mount's root leaves free."""
    out = []
    for group in _groups(mount, path):
        try:
            raw = (group / limit_file).read_text().strip()
        except OSError:
            continue
        if raw == "max" or not raw.isdigit() or int(raw) >= V1_UNLIMITED:
            continue
        out.append(int(raw) - _used(group, usage_file))
    return out


def _used(group: Path, usage_file: str) -> int:
    """A group's memory in use, less its inactive page cache (the kernel reclaims it
    before it kills anything)."""
    try:
        used = int((group / usage_file).read_text())
    except (OSError, ValueError):
        return 0
    try:
        stat = dict(
            line.split()[:2]
            for line in (group / "memory.stat").read_text().splitlines()
        )
    except (OSError, ValueError):
        stat = {}
    cache = stat.get("inactive_file", stat.get("total_inactive_file", "0"))
    return max(0, used - int(cache)) if cache.isdigit() else used


def cgroup_cpus() -> float | None:
    """The CPUs this process's control groups let it use (quota over period: ``docker
    --cpus``, a Kubernetes CPU limit, systemd's ``CPUQuota``), the tightest over the
    group and its ancestors; None where no quota applies or none can be read. The
    affinity mask does not show a quota: a process may run on every CPU and still
    get only this much of their time, so more threads only wait for their turn."""
    found = []
    for controllers, path in _memberships():
        if controllers == "":  # v2: "cpu.max" holds "<quota> <period>" or "max ..."
            for group in _groups(CGROUP_ROOT, path):
                found += _quota(_read(group / "cpu.max").split()[:2])
        elif "cpu" in controllers.split(","):  # v1: a quota of -1 is none
            for mount in {CGROUP_ROOT / controllers, CGROUP_ROOT / "cpu"}:
                for group in _groups(mount, path):
                    found += _quota(
                        [
                            _read(group / "cpu.cfs_quota_us"),
                            _read(group / "cpu.cfs_period_us"),
                        ]
                    )
    return min(found) if found else None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _quota(fields: list[str]) -> list[float]:
    """CPUs from a quota and a period in microseconds; none if either is missing or
    the quota is unlimited."""
    if len(fields) < 2 or not all(f.isdigit() for f in fields) or int(fields[1]) == 0:
        return []
    return [int(fields[0]) / int(fields[1])]


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"
