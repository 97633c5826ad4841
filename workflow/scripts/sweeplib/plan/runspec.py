"""A run, typed: everything that determines one scale's timing job, from the config
to the worker (no torch here: the plan builds them).

``RunSpec.from_config`` makes one from the validated config, a scale entry and
the devices; its ``key`` is the digest of its JSON, the name of its results
folder; ``schedule()`` counts its steps, ``footprint()`` its memory,
``processes()`` gives its timing processes. ``to_json``/``from_json`` carry it
to the rule's params, to each worker's spec and into every checkpoint. A
setting that is not here does not determine the run; one that is here is in
the key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

from ..common import keys
from ..common.devices import INTERLEAVED
from ..common.memory import ModelFootprint, data_bytes, model_footprint
from ..common.series import AXES
from ..common.sizes import ModelSizes
from .schedule import Schedule, protocol_steps

# Process indices of wave k start at PROCESS_STRIDE x k.
PROCESS_STRIDE = 100


@dataclass(frozen=True)
class Dataset:
    """A scale's synthetic data: its sizes and seed, and what made it."""

    num_inputs: int
    n_train: int
    n_test: int
    seed: int
    torch: str
    code: str

    @property
    def key(self) -> str:
        return keys.digest(asdict(self))

    def path(self, scale: float) -> str:
        return keys.DATASET.format(scale=scale, key=self.key)


@dataclass(frozen=True)
class Training:
    """The post's protocol (config ``train``, with a scale's overrides)."""

    epochs: int
    batch_size: int
    lr: float
    model_seed: int
    loader: str
    num_workers: int
    # "float32" (the post), or "bfloat16": the forward pass and loss under
    # torch.autocast, with float32 master weights, gradients and update.
    precision: str = "float32"


@dataclass(frozen=True)
class Timing:
    """How the devices are timed side by side (config ``timing``, with a scale's
    overrides; docs/METHOD.md)."""

    processes: int
    rounds: int
    steps_per_window: int | str  # "all": the protocol after warm-up, over the rounds
    warmup_steps: int
    switch_steps: int
    order_seed: int
    accelerator_warmup_s: float
    accelerator_switch_s: float
    mimic_post_prints: bool
    # None: exactly ``processes`` processes. Seconds: processes start one after
    # another while the job's time stays within them (at least ``processes``, at most
    # ``max_processes``), each its rounds as counted: a fast machine measures more.
    seconds: float | None = None
    max_processes: int = 16


@dataclass(frozen=True)
class Device:
    """A device as a run knows it: its name, threads, hardware and the tag of the
    hardware and software its results belong to (``machines.hardware_tag``)."""

    name: str
    threads: int
    hardware: str
    hardware_tag: str


@dataclass(frozen=True)
class Process:
    """One timing process of a run: its index, the devices it trains, and the threads
    its thread variables are set to (its most threaded device's)."""

    index: int
    devices: tuple[str, ...]
    threads: int


def schedule_of(training: Training, timing: Timing, n_train: int) -> Schedule:
    """The one place a run's steps are counted (the config check asks it too)."""
    per_window = timing.steps_per_window
    return Schedule(
        protocol_steps=protocol_steps(training.epochs, n_train, training.batch_size),
        warmup_steps=timing.warmup_steps,
        rounds=timing.rounds,
        steps_per_window=None if per_window == "all" else per_window,
        switch_steps=timing.switch_steps,
        accelerator_warmup_s=timing.accelerator_warmup_s,
        accelerator_switch_s=timing.accelerator_switch_s,
    )


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one scale's timing run."""

    scale: float
    sizes: ModelSizes
    data: Dataset
    training: Training
    timing: Timing
    devices: tuple[Device, ...]
    # INTERLEAVED: every process holds every device; SEPARATE: one device each.
    pairing: str
    torch: str
    code: str
    # 0: the run of a size; k: its k-th wave of extra processes (``refine.py``), pooled
    # with the others by the analysis.
    wave: int = 0

    @classmethod
    def from_config(
        cls,
        sections: dict,
        scale: float,
        data: dict,
        devices: tuple[Device, ...],
        pairing: str,
        torch: str,
        code: dict[str, str],
    ) -> RunSpec:
        """A run of ``scale`` with its effective ``train`` and ``timing`` settings
        (``config.scale_sections``), the config's ``data`` section, the devices, how
        they are paired, the torch version and the code digests (``data``, ``run``)."""
        sizes = ModelSizes.for_scale(scale)
        return cls(
            scale=scale,
            sizes=sizes,
            data=Dataset(
                sizes.num_inputs,
                data["n_train"],
                data["n_test"],
                data["seed"],
                torch,
                code["data"],
            ),
            training=Training(**sections["train"]),
            timing=Timing(**sections["timing"]),
            devices=tuple(devices),
            pairing=pairing,
            torch=torch,
            code=code["run"],
        )

    def with_pairing(self, pairing: str) -> RunSpec:
        return replace(self, pairing=pairing)

    @property
    def params(self) -> int:
        return self.sizes.num_params

    @property
    def series_values(self) -> dict:
        """The run's values of the series axes (``series.AXES``): which curve it is a
        point of, on its machine."""
        return {axis: getattr(self.training, axis) for axis in AXES}

    @property
    def key(self) -> str:
        return keys.digest(self.to_dict())

    @property
    def device_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.devices)

    def device(self, name: str) -> Device:
        return next(d for d in self.devices if d.name == name)

    @property
    def dataset(self) -> str:
        """The path of the run's dataset."""
        return self.data.path(self.scale)

    def schedule(self) -> Schedule:
        return schedule_of(self.training, self.timing, self.data.n_train)

    def footprint(self) -> tuple[dict[str, ModelFootprint], int]:
        """Each device's model footprint, and the dataset's bytes (``memory.py``)."""
        models = {
            d.name: model_footprint(
                self.sizes, self.training.batch_size, d.name, self.training.precision
            )
            for d in self.devices
        }
        return models, data_bytes(self.sizes, self.data.n_train, self.data.n_test)

    def processes(self, count: int | None = None) -> list[Process]:
        """The run's first ``count`` timing processes (its ``timing.processes`` by
        default), in the order they run: interleaved, each holds every device;
        separate, each one device, the devices' processes alternating (asv's
        ``--interleave-processes``). A wave's processes are numbered on from
        ``PROCESS_STRIDE x wave``, so that waves pool without colliding."""
        threads = {d.name: d.threads for d in self.devices}
        held = (
            [self.device_names]
            if self.pairing == INTERLEAVED
            else [(d,) for d in self.device_names]
        )
        first = PROCESS_STRIDE * self.wave
        return [
            Process(first + p, devices, max(threads[d] for d in devices))
            for p in range(self.timing.processes if count is None else count)
            for devices in held
        ]

    @property
    def budgeted(self) -> bool:
        """Whether the run's processes are counted by time (``timing.seconds``)."""
        return self.timing.seconds is not None

    @property
    def most_processes(self) -> int:
        return self.timing.max_processes if self.budgeted else self.timing.processes

    # --- JSON: the rule's params, each worker's spec, every checkpoint --------------

    def to_dict(self) -> dict:
        return {
            "scale": self.scale,
            "sizes": self.sizes.to_dict(),
            "params": self.params,
            "data": {**asdict(self.data), "key": self.data.key},
            "train": asdict(self.training),
            "timing": asdict(self.timing),
            "devices": [asdict(d) for d in self.devices],
            "pairing": self.pairing,
            "torch": self.torch,
            "code": self.code,
            "wave": self.wave,
        }

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): equal runs give equal text."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        data = {k: v for k, v in d["data"].items() if k != "key"}
        return cls(
            scale=d["scale"],
            sizes=ModelSizes(**d["sizes"]),
            data=Dataset(**data),
            training=Training(**d["train"]),
            timing=Timing(**d["timing"]),
            devices=tuple(Device(**x) for x in d["devices"]),
            pairing=d["pairing"],
            torch=d["torch"],
            code=d["code"],
            wave=d.get("wave", 0),
        )

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class WorkerSpec:
    """What one timing process is told (``worker.py``): its run, which process it is,
    the dataset, where to write its tables, its host memory estimate, and, for the
    process that provides them, where to save each device's checkpoint and test-set
    logits (device -> {"checkpoint": path, "predictions": path})."""

    run: RunSpec
    process: Process
    dataset: str
    out: str
    mem_estimate_bytes: int
    save: dict

    def to_json(self) -> str:
        return json.dumps(
            {
                "run": self.run.to_dict(),
                "process": asdict(self.process),
                "dataset": self.dataset,
                "out": self.out,
                "mem_estimate_bytes": self.mem_estimate_bytes,
                "save": self.save,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        d = json.loads(text)
        process = d["process"]
        return cls(
            run=RunSpec.from_dict(d["run"]),
            process=Process(
                process["index"], tuple(process["devices"]), process["threads"]
            ),
            dataset=d["dataset"],
            out=d["out"],
            mem_estimate_bytes=d["mem_estimate_bytes"],
            save=d["save"],
        )
