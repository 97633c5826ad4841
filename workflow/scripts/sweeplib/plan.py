"""The plan of a sweep: validated settings expanded into keyed runs, datasets,
hardware probes and the toy example, plus the manifest the report is built from."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import devices as dev
from .atomic import write_text
from .config import ConfigError, Run, code_digest, digest, expand_runs, load_schema, validate_config
from .env import accelerator_name, host_environment, machine_id, torch_version
from .memory import available_memory, estimate, fits, gib
from .sizes import ModelSizes

# The source files behind each kind of result: editing one invalidates exactly
# the results it produces (their keys change).
DATA_CODE = ["sweeplib/data.py", "make_dataset.py"]
TRAIN_CODE = [
    "sweeplib/sizes.py", "sweeplib/model.py", "sweeplib/data.py", "sweeplib/timing.py", "sweeplib/runner.py",
    "sweeplib/checkpoint.py", "sweeplib/devices.py", "sweeplib/inference.py", "train_model.py", "check_inference.py",
]
HARDWARE_CODE = ["sweeplib/hardware.py", "sweeplib/timing.py", "measure_hardware.py"]
TOY_CODE = ["sweeplib/toy.py", "sweeplib/model.py", "sweeplib/sizes.py", "sweeplib/data.py", "sweeplib/checkpoint.py",
            "train_toy.py", "predict_toy.py"]


# Plan as if every device had this many bytes free: for planning, on a small
# machine, a sweep meant for a larger one. The run-time guard still applies.
ASSUME_MEMORY = "SWEEP_ASSUME_MEMORY_BYTES"


class PlanError(ValueError):
    """The config cannot be run here; nothing has been started."""


def detect_devices() -> list[str]:
    """Devices available here. Avoids importing torch (over a second) where the answer is
    certain without it: a ``+cpu`` build has no CUDA, and MPS exists only on macOS."""
    if "+cpu" in torch_version() and sys.platform != "darwin":
        return ["cpu", "cpu1"]
    return dev.available_devices()


@dataclass
class Plan:
    config: dict
    devices: list[str]
    baseline: str
    runs: list[Run]
    skipped: list[dict]
    datasets: dict[str, dict]
    hardware: dict[str, dict]
    toy_key: str
    environment: dict = field(default_factory=dict)

    def manifest(self) -> dict:
        return {
            "baseline": self.baseline,
            "devices": self.devices,
            "scales": [r["scale"] if isinstance(r, dict) else r for r in self.config["scales"]],
            "analysis": self.config["analysis"],
            "runs": [{"scale": r.scale, "device": r.device, "key": r.key, "folder": r.folder,
                      "params": r.settings["params"], "machine": r.settings["device"]["machine"]} for r in self.runs],
            "skipped": self.skipped,
            "hardware": self.hardware,
            "toy_key": self.toy_key,
            "environment": self.environment,
            "config": self.config,
        }

    def write_manifest(self, path: str) -> bool:
        """Write the manifest if it changed (so its date marks the last change of plan)."""
        text = json.dumps(self.manifest(), indent=2, sort_keys=True) + "\n"
        p = Path(path)
        if p.exists() and p.read_text() == text:
            return False
        write_text(p, text)
        return True


def plan_sweep(config: dict, scripts: Path, schema_path: Path, available: list[str] | None = None,
               memory: dict[str, int] | None = None) -> Plan:
    """Validate the config and expand it; raise PlanError before anything runs.

    ``available`` and ``memory`` (bytes free per device) default to what this
    machine has; tests pass their own.
    """
    try:
        config = validate_config(config, load_schema(schema_path))
        available = detect_devices() if available is None else available
        devices = dev.resolve_devices(config["devices"], available)
        baseline = dev.resolve_baseline(config["baseline"], devices)
    except (ConfigError, ValueError) as exc:
        raise PlanError(str(exc)) from exc

    env = host_environment()
    tv = env["torch"]
    identity = {}
    for name in devices:
        hardware = accelerator_name(name)
        identity[name] = {"threads": dev.device_threads(name, config["cpu_threads"]), "hardware": hardware,
                          "machine": machine_id(hardware, env)}
    code = lambda files: code_digest(scripts / f for f in files)  # noqa: E731
    runs = expand_runs(config, identity, tv, code(DATA_CODE), code(TRAIN_CODE))

    kept, skipped = [], []
    assumed = os.environ.get(ASSUME_MEMORY)
    free = {d: int(float(assumed)) for d in devices} if assumed else {}
    for run in runs:
        if run.device not in free:
            free[run.device] = (memory or {}).get(run.device) or available_memory(run.device)
        s = run.settings
        need = estimate(ModelSizes(**s["sizes"]), s["train"]["batch_size"], s["data"]["n_train"], s["data"]["n_test"],
                        accelerator=run.device in dev.ACCELERATORS)
        # A run already measured stays in the report, whatever memory is free today.
        if fits(need, free[run.device]) or (Path(run.folder) / "timings.csv").exists():
            kept.append(run)
        else:
            skipped.append({"scale": run.scale, "device": run.device, "params": s["params"], "estimate_bytes": need.total,
                            "available_bytes": free[run.device],
                            "reason": f"needs about {gib(need.total)}, {gib(free[run.device])} available"})

    datasets = {r.dataset_key: {k: v for k, v in r.settings["data"].items() if k != "key"} for r in kept}
    hw_code = code(HARDWARE_CODE)
    hardware = {}
    for name in devices:
        h = {"device": identity[name] | {"name": name}, **config["hardware"], "torch": tv, "code": hw_code}
        hardware[name] = {**h, "key": digest(h)}
    toy_key = digest({"torch": tv, "code": code(TOY_CODE)})
    return Plan(config, devices, baseline, kept, skipped, datasets, hardware, toy_key, env)
