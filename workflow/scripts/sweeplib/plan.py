"""The plan of a sweep: the validated config expanded into one timing run per scale
(its devices interleaved in one process, or in processes of their own when their
models do not fit in memory together), the datasets, the hardware probes and the
toy example, each keyed (``keys.py``); and the manifest the aggregation reads."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import devices as dev
from . import keys
from .config import ConfigError, scale_settings, validate_config
from .devices import INTERLEAVED, SEPARATE
from .env import hardware_name, host_environment, host_tag, machine_id
from .memory import (
    available_host_memory,
    check_needs,
    fits,
    run_footprint,
    shortfall,
    timing_needs,
)
from .probe import machine_facts
from .sizes import ModelSizes

# The entry scripts (in workflow/scripts/) behind each kind of result.
DATA_SCRIPTS = ["make_dataset.py"]
RUN_SCRIPTS = ["time_scale.py", "check_inference.py"]
HARDWARE_SCRIPTS = ["measure_hardware.py"]
TOY_SCRIPTS = ["train_toy.py", "predict_toy.py"]
AGGREGATION_SCRIPTS = [
    "aggregate_results.py",
    "analyse_sweep.py",
    "plot_sweep.py",
    "write_report.py",
]

# Plan as if every memory pool had this many bytes free: for planning, on a
# small machine, a sweep meant for a larger one.
ASSUME_MEMORY = "SWEEP_ASSUME_MEMORY_BYTES"
# The free memory the main Snakemake process planned with (JSON, bytes per pool).
# Jobs on a cluster read the workflow again on a node that is busy with other
# jobs; they inherit this, so that they plan exactly the runs the main process did.
PLANNED_MEMORY = "SWEEP_PLANNED_MEMORY"


class PlanError(ValueError):
    """The config cannot be run here; nothing has been started."""


@dataclass(frozen=True)
class ScaleRun:
    """One scale's timing job: every device of the sweep, timed together."""

    machine: str  # the results folder of the machine that runs it
    scale: int
    key: str
    dataset_key: str
    devices: tuple[str, ...]
    # INTERLEAVED: one process holds every device; SEPARATE: one process per device.
    pairing: str
    settings: dict
    pairing_reason: str = ""  # why SEPARATE: memory, or a BLAS that fixes its threads

    @property
    def folder(self) -> str:
        return keys.RUN.format(machine=self.machine, scale=self.scale, key=self.key)

    def device_folder(self, device: str) -> str:
        return f"{self.folder}/{device}"

    def resources(self, job: str) -> dict:
        """What a cluster should give this run's ``time`` or ``check`` job: memory from
        the estimate (with a fifth more), a time limit, every core its devices use, a
        GPU for CUDA, and the node to itself (nothing may share a timed job's cores)."""
        s = self.settings
        models, nbytes = run_footprint(s)
        held = (
            [models]
            if self.pairing == INTERLEAVED
            else [{d: m} for d, m in models.items()]
        )
        needs = (
            [timing_needs(h, nbytes) for h in held]
            if job == "time"
            else [check_needs(models, nbytes)]
        )
        return {
            "mem_mb": int(1.2 * max(n["host"] for n in needs) / 2**20) + 1,
            "runtime": runtime_minutes(s, len(self.devices)) if job == "time" else 30,
            "cpus_per_task": max(d["threads"] for d in s["devices"]),
            "gpu": int("cuda" in self.devices),
            "slurm_extra": "--exclusive",
        }


@dataclass
class Plan:
    machine: str  # this machine's results folder (env.host_tag)
    machine_info: dict
    config: dict
    devices: list[str]
    baseline: str
    runs: list[ScaleRun]
    skipped: list[dict]
    datasets: dict[str, dict]
    hardware: dict[str, dict]
    toy_key: str
    aggregation_code: str
    notes: list[str] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    imported: dict[str, dict] = field(default_factory=dict)  # other machines' plans
    free: dict[str, int] = field(default_factory=dict)  # memory planned with, per pool
    facts: dict = field(default_factory=dict)  # what torch offers here (probe.py)

    def manifest(self) -> dict:
        """What the aggregation reads: every machine's plan, and how to analyse them."""
        return {
            "machine": self.machine,
            "plans": {self.machine: self.machine_plan(), **self.imported},
            "analysis": self.config["analysis"],
            "toy_key": self.toy_key,
            "code": self.aggregation_code,
        }

    def machine_plan(self) -> dict:
        """This machine's runs and how it ran them; travels with its results folder."""
        return {
            "machine": self.machine,
            "info": self.machine_info,
            "baseline": self.baseline,
            "devices": self.devices,
            "scales": [
                r["scale"] if isinstance(r, dict) else r for r in self.config["scales"]
            ],
            "analysis": self.config["analysis"],
            "runs": [
                {
                    "scale": r.scale,
                    "key": r.key,
                    "folder": r.folder,
                    "devices": list(r.devices),
                    "params": r.settings["params"],
                    "pairing": r.pairing,
                    "pairing_reason": r.pairing_reason,
                    "processes": r.settings["timing"]["processes"],
                }
                for r in self.runs
            ],
            "skipped": self.skipped,
            "hardware": {
                d: {
                    **h,
                    "file": keys.HARDWARE.format(
                        machine=self.machine, device=d, key=h["key"]
                    ),
                }
                for d, h in self.hardware.items()
            },
            "environment": self.environment,
            "config": self.config,
        }

    def text(self, obj: dict) -> str:
        return json.dumps(obj, indent=2, sort_keys=True) + "\n"

    @property
    def key(self) -> str:
        return keys.digest(self.manifest())

    def manifest_text(self) -> str:
        return self.text(self.manifest())

    def is_written(self, path: str = keys.PLAN) -> bool:
        """Whether ``path`` already holds this plan (read only: a dry run may ask)."""
        p = Path(path)
        return p.exists() and p.read_text() == self.manifest_text()


def runtime_minutes(settings: dict, devices: int) -> int:
    """A generous time limit for a scale's timing job: a minute per process to start
    and build, and every step at 10 ms plus 10 ns per parameter (a slow CPU thread)."""
    t = settings["timing"]
    per_window = t["switch_steps"] + (
        t["steps_per_window"] if t["steps_per_window"] != "all" else 1000
    )
    steps = t["warmup_steps"] + t["rounds"] * per_window
    step_s = 0.01 + 1e-8 * settings["params"]
    seconds = t["processes"] * devices * (60 + steps * step_s)
    return int(seconds / 60) + 10


def plan_sweep(
    config: dict,
    scripts: Path,
    schema_path: Path,
    facts: dict | None = None,
    memory: dict[str, int] | None = None,
) -> Plan:
    """Validate the config and expand it; raise PlanError before anything runs.

    ``facts`` (what torch offers here: ``probe.py``) and ``memory`` (bytes free
    per memory pool) default to what this machine has; tests pass their own.
    """
    try:
        config, notes = validate_config(config, schema_path)
        facts = machine_facts() if facts is None else facts
        found = dev.available_devices(facts)
        devices = dev.resolve_devices(config["devices"], found)
        baseline = dev.resolve_baseline(config["baseline"], devices)
    except (ConfigError, ValueError) as exc:
        raise PlanError(str(exc)) from exc
    env = {**host_environment(), **torch_environment(facts)}
    machine, info = describe_machine(env, facts)
    identity = [device_identity(d, config["cpu_threads"], env, facts) for d in devices]
    free = free_memory(devices, memory, facts)
    planner = Planner(
        machine, config, identity, env, code_digests(scripts), free, facts
    )
    runs, skipped, datasets = [], [], {}
    for entry in config["scales"]:
        run, skips, dataset = planner.plan_scale(scale_settings(config, entry))
        skipped += skips
        if run:
            runs.append(run)
            datasets[run.dataset_key] = dataset
    toy_key = keys.digest(keys.toy_settings(env["torch"], planner.code["toy"]))
    imported, import_notes = other_machines(machine)
    return Plan(
        machine,
        info,
        config,
        devices,
        baseline,
        runs,
        skipped,
        datasets,
        planner.hardware(),
        toy_key,
        planner.code["aggregation"],
        notes + import_notes,
        env,
        imported,
        free,
        facts,
    )


def other_machines(
    machine: str, results: Path = Path("results")
) -> tuple[dict, list[str]]:
    """The plans of the other machines whose folders were copied into
    ``results/machines`` (read only), and a note for each folder that is not one."""
    plans, notes = {}, []
    for path in sorted(results.glob("machines/*/plan.json")):
        tag = path.parent.name
        if tag == machine:
            continue
        try:
            plan = json.loads(path.read_text())
            ok = plan["machine"] == tag and {
                "runs",
                "baseline",
                "devices",
                "info",
            } <= set(plan)
        except (ValueError, KeyError, TypeError):
            ok = False
        if ok:
            plans[tag] = plan
        else:
            notes.append(
                f"{path} is not a machine's plan written by this workflow; ignored"
            )
    return plans, notes


def code_digests(scripts: Path) -> dict[str, str]:
    """The hash of the code behind each kind of result."""
    groups = {
        "data": DATA_SCRIPTS,
        "run": RUN_SCRIPTS,
        "hardware": HARDWARE_SCRIPTS,
        "toy": TOY_SCRIPTS,
        "aggregation": AGGREGATION_SCRIPTS,
    }
    return {name: keys.code_digest(group, scripts) for name, group in groups.items()}


@dataclass(frozen=True)
class Planner:
    """What every scale's plan shares: the config, devices, machine, code, memory."""

    machine: str
    config: dict
    identity: list[dict]  # each device's name, threads, hardware and machine tag
    env: dict
    code: dict[str, str]
    free: dict[str, int]  # bytes free per memory pool
    facts: dict  # what torch offers here (probe.py)

    @property
    def devices(self) -> list[str]:
        return [d["name"] for d in self.identity]

    def plan_scale(self, s: dict) -> tuple[ScaleRun | None, list[dict], dict]:
        """One scale's run (None if it cannot fit), its skipped rows, its dataset."""
        sizes = ModelSizes.for_scale(s["scale"])
        data = keys.dataset_settings(
            sizes, self.config["data"], self.env["torch"], self.code["data"]
        )
        dataset_key = keys.digest(data)
        settings = {
            pairing: keys.scale_run_settings(
                s,
                self.config["train"],
                self.config["timing"],
                {**data, "key": dataset_key},
                self.identity,
                pairing,
                self.env["torch"],
                self.code["run"],
            )
            for pairing in (INTERLEAVED, SEPARATE)
        }
        pairing, reason = choose_pairing(self.machine, self.free, settings, self.facts)
        if pairing is None:
            skipped = {
                "scale": s["scale"],
                "params": sizes.num_params,
                "reason": reason,
            }
            return None, [{**skipped, "device": d} for d in self.devices], data
        chosen = settings[pairing]
        run = ScaleRun(
            self.machine,
            s["scale"],
            keys.digest(chosen),
            dataset_key,
            tuple(self.devices),
            pairing,
            chosen,
            reason if pairing == SEPARATE else "",
        )
        return run, [], data

    def hardware(self) -> dict[str, dict]:
        """Each device's hardware probe, keyed."""
        probes = {}
        for ident in self.identity:
            h = keys.hardware_settings(
                ident, self.config["hardware"], self.env["torch"], self.code["hardware"]
            )
            probes[ident["name"]] = {**h, "key": keys.digest(h)}
        return probes


def torch_environment(facts: dict) -> dict:
    """What the probe found about torch's threads and libraries, for the report."""
    threads, source = dev.all_threads(facts)
    return {
        "torch_blas": f"{facts['blas']} (threads set {facts['blas_threading']})",
        "torch_parallel": facts["parallel"],
        "cpu_threads_all": threads,
        "cpu_threads_all_source": source,
    }


def describe_machine(env: dict, facts: dict) -> tuple[str, dict]:
    """This machine's results folder name, and its description (machine.json)."""
    accelerators = {d: a["name"] for d, a in facts["accelerators"].items()}
    machine = host_tag(env, accelerators)
    return machine, {"tag": machine, **env, "accelerators": accelerators}


def device_identity(device: str, cpu_threads, env: dict, facts: dict) -> dict:
    """What identifies a device's results: name, threads, hardware, machine tag."""
    hardware = hardware_name(device, facts)
    return {
        "name": device,
        "threads": dev.device_threads(device, cpu_threads, facts),
        "hardware": hardware,
        "machine": machine_id(hardware, env),
    }


def free_memory(
    devices: list[str], given: dict[str, int] | None, facts: dict
) -> dict[str, int]:
    """Bytes free per memory pool: assumed, given, as the main process planned, or
    measured now (the host here; a CUDA device by the probe, in its own process)."""
    pools = {dev.memory_pool(d) for d in devices} | {"host"}
    assumed = os.environ.get(ASSUME_MEMORY)
    if assumed:
        return {p: int(float(assumed)) for p in pools}
    given = {**json.loads(os.environ.get(PLANNED_MEMORY, "{}")), **(given or {})}
    measured = {
        "host": available_host_memory,
        "cuda": lambda: facts["accelerators"]["cuda"]["free_bytes"],
    }
    return {p: int(given[p]) if p in given else measured[p]() for p in pools}


def choose_pairing(
    machine: str, free: dict[str, int], settings: dict[str, dict], facts: dict
) -> tuple[str | None, str]:
    """How a scale's devices are timed: interleaved in one process if their models fit
    in memory together and every device can run at its own threads there; else each
    in processes of its own (with the reason); None (with the reason) if even one
    model alone does not fit. A scale already measured keeps its results, whatever
    memory is free today. ``settings`` holds the run's settings per pairing; ``facts``
    tell how torch's BLAS takes its threads (``devices.threads_fixed_at_load``)."""
    models, nbytes = run_footprint(settings[INTERLEAVED])
    check = check_needs(models, nbytes)
    apart = why_apart(settings[INTERLEAVED], models, nbytes, free, facts)
    devices = [d["name"] for d in settings[INTERLEAVED]["devices"]]
    for pairing in (INTERLEAVED, SEPARATE):
        scale, key = settings[pairing]["scale"], keys.digest(settings[pairing])
        run = keys.RUN.format(machine=machine, scale=scale, key=key)
        if all((Path(run) / d / "timings.csv").exists() for d in devices):
            if pairing == SEPARATE and not apart:
                apart = "so it was planned when it was measured (memory was short then)"
            return pairing, apart if pairing == SEPARATE else "already measured"
    if not apart and fits(check, free):
        return INTERLEAVED, ""
    alone = [timing_needs({d: m}, nbytes) for d, m in models.items()]
    if all(fits(n, free) for n in alone) and fits(check, free):
        return SEPARATE, apart
    worst = max(alone + [check], key=lambda n: max(v / free[p] for p, v in n.items()))
    return None, shortfall(worst, free)


def why_apart(
    settings: dict, models: dict, nbytes: int, free: dict[str, int], facts: dict
) -> str:
    """Why a scale's devices cannot share a process ("" if they can)."""
    threads = sorted({d["threads"] for d in settings["devices"]})
    if len(threads) > 1 and dev.threads_fixed_at_load(facts):
        return (
            f"torch's BLAS ({facts['blas']}) keeps the thread count it loaded with, "
            f"so devices with {' and '.join(map(str, threads))} threads cannot share "
            "a process"
        )
    together = timing_needs(models, nbytes)
    if not fits(together, free):
        return (
            "the models did not fit in memory together ("
            + shortfall(together, free)
            + ")"
        )
    return ""
