"""The plan of a sweep: the validated config expanded into one typed run per scale
(``runspec.RunSpec``; its devices interleaved in one process, or in processes of
their own when they cannot share one), the datasets, the hardware probes and
the toy example, each keyed (``keys.py``).

Planning only: what a cluster gives each job is ``cluster.py``, the other
machines' folders ``brought_in.py``, the files the plan writes ``plan_files.py``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..common import devices as dev
from ..common import keys
from ..common.devices import INTERLEAVED, SEPARATE
from ..common.env import cpu_instructions, hardware_name, host_environment
from ..common.memory import (
    available_host_memory,
    check_needs,
    fits,
    shortfall,
    timing_needs,
)
from ..common.series import Series
from .brought_in import other_machines
from .config import (
    ConfigError,
    run_sections,
    scale_of,
    scale_sections,
    validate_config,
    values_of,
)
from .disk import shortage
from .machines import accelerator_identity, describe_machine, hardware_tag
from .probe import INHERITED, machine_facts
from .runspec import Dataset, Device, RunSpec

# The rules behind each kind of result. A rule runs workflow/scripts/<rule>.py
# (``script_of``), and the rules take their script from here (``entry_script`` in
# workflow/rules/common.smk): so each rule's script is hashed, with every module it
# imports, into the key of the result it makes (``code_digests``).
RULES = {
    "data": ("make_dataset",),
    "run": ("time_scale", "check_inference"),
    "hardware": ("measure_hardware",),
    "toy": ("train_toy", "predict_toy"),
    "aggregation": ("aggregate_results", "analyse_sweep", "plot_sweep", "write_report"),
    "refine": ("refine_sweep",),
}
# The rules whose script no key holds, and why.
UNKEYED = {"write_plan": "it only writes out the plan this process made"}


def script_of(rule: str) -> str:
    """A rule's entry script, in workflow/scripts/; KeyError for a rule that is
    neither behind a kind of result nor listed as unkeyed."""
    if rule not in UNKEYED and not any(rule in r for r in RULES.values()):
        raise KeyError(
            f"rule {rule!r} is in no list of sweeplib/plan/sweep.py's RULES: add it "
            "to the kind of result it makes, so that its script is keyed"
        )
    return f"{rule}.py"


def scripts_of(kind: str) -> list[str]:
    """The entry scripts behind a kind of result (``RULES``)."""
    return [script_of(rule) for rule in RULES[kind]]


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
    """One scale's timing job on a machine: its run, and why its devices were timed
    in separate processes, if they were."""

    machine: str  # the results folder of the machine that runs it
    spec: RunSpec
    pairing_reason: str = ""  # memory, or a BLAS that fixes its threads

    @property
    def scale(self) -> float:
        return self.spec.scale

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def series(self) -> Series:
        """The curve the run measures a point of."""
        return Series.of(self.machine, self.spec.series_values)

    @property
    def folder(self) -> str:
        return keys.RUN.format(machine=self.machine, scale=self.scale, key=self.key)

    def device_folder(self, device: str) -> str:
        return f"{self.folder}/{device}"


@dataclass
class Plan:
    machine: str  # this machine's results folder (machines.machine_tag)
    machine_info: dict
    config: dict
    devices: list[str]
    baseline: str
    runs: list[ScaleRun]
    skipped: list[dict]
    datasets: dict[str, Dataset]
    hardware: dict[str, dict]
    toy_key: str
    aggregation_code: str
    notes: list[str] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    imported: dict[str, dict] = field(default_factory=dict)  # other machines' plans
    free: dict[str, int] = field(default_factory=dict)  # memory planned with, per pool
    facts: dict = field(default_factory=dict)  # what torch offers here (probe.py)
    planner: Planner | None = None  # plans the sizes refinement adds (refined)
    refine_chain: str = ""  # the key of its passes (keys.REFINE_DIR)
    refinement: list[dict] = field(default_factory=list)  # its passes so far
    # Other machines' folders left out, and why (brought_in.py): {"folder", "reason"}.
    left_out: list[dict] = field(default_factory=list)

    @property
    def refine_dir(self) -> str:
        return keys.REFINE_DIR.format(chain=self.refine_chain)


def plan_sweep(
    config: dict,
    scripts: Path,
    schema_path: Path,
    facts: dict | None = None,
    memory: dict[str, int] | None = None,
    disk: int | None = None,
) -> Plan:
    """Validate the config and expand it; raise PlanError before anything runs.

    ``facts`` (what torch offers here: ``probe.py``), ``memory`` (bytes free
    per memory pool) and ``disk`` (bytes free under results/) default to what
    this machine has; tests pass their own.
    """
    config, notes, facts, threads, baseline = resolve(config, schema_path, facts)
    planner, info = machine_planner(config, threads, facts, scripts, memory)
    runs, skipped, datasets = planner.plan_scales()
    check_disk(runs, datasets, disk)
    machine, env, code = planner.machine, planner.env, planner.code
    chain = refine_chain(config, runs, code["refine"])
    imported, left_out = other_machines(machine)
    return Plan(
        machine,
        info,
        config,
        list(threads),
        baseline,
        runs,
        skipped,
        datasets,
        planner.hardware(),
        keys.digest(keys.toy_settings(env["torch"], code["toy"])),
        code["aggregation"],
        notes + [f"{n['folder']} left out: {n['reason']}" for n in left_out],
        # What the report records of the machine (not what names it): bfloat16 on a
        # CPU runs as fast as the instructions it offers allow.
        {
            **env,
            "cpu_instructions": cpu_instructions() or "none of those bfloat16 uses",
        },
        imported,
        planner.free,
        facts,
        planner,
        chain,
        left_out=left_out,
    )


def resolve(
    config: dict, schema_path: Path, facts: dict | None
) -> tuple[dict, list[str], dict, dict[str, int], str]:
    """What the config asks of this machine, settled once: the validated config and
    its notes, the machine's facts (probed unless given; with the host's:
    ``with_host``), the devices to run with their CPU threads (in order), and the
    baseline; PlanError where the config asks for what this machine cannot give (a
    device, or a precision on one)."""
    try:
        config, notes = validate_config(config, schema_path)
        facts = with_host(machine_facts() if facts is None else facts)
        devices = dev.resolve_devices(config["devices"], dev.available_devices(facts))
        baseline = dev.resolve_baseline(config["baseline"], devices)
        dev.check_precisions(values_of(config["train"]["precision"]), devices, facts)
    except (ConfigError, ValueError) as exc:
        raise PlanError(str(exc)) from exc
    threads = {d: dev.device_threads(d, config["cpu_threads"], facts) for d in devices}
    return config, notes, facts, threads, baseline


def machine_planner(
    config: dict,
    threads: dict[str, int],
    facts: dict,
    scripts: Path,
    memory: dict[str, int] | None,
) -> tuple[Planner, dict]:
    """What every scale's plan shares (``Planner``): this machine, named by its
    environment (the host's facts and torch's), its devices' identities, the code,
    the free memory; and the machine's description (``machine.json``)."""
    env = {**facts["host"], **torch_environment(facts)}
    machine, info = describe_machine(env, facts)
    planner = Planner(
        machine,
        config,
        tuple(device_identity(d, t, env, facts) for d, t in threads.items()),
        env,
        code_digests(scripts),
        free_memory(list(threads), memory, facts),
        facts,
    )
    return planner, info


def refine_chain(config: dict, runs: list[ScaleRun], code: str) -> str:
    """The key of a sweep's refinement: what its passes start from (the configured
    runs), the rules and the analysis they apply, and their code."""
    return keys.digest(
        {
            "runs": [r.key for r in runs],
            "refine": config["refine"],
            "analysis": config["analysis"],
            "baseline": config["baseline"],
            "code": code,
        }
    )


def decision_on_disk(folder: str) -> dict | None:
    """The latest decision of a refinement on disk (its history lists every run added
    so far), or None before the first (reads only: a dry run may ask)."""
    n, found = 0, None
    while (path := Path(folder) / keys.PASS_FILE.format(n=n)).exists():
        found = json.loads(path.read_text())
        if found["stop"]:
            break
        n += 1
    return found


def refined(plan: Plan, decision: dict | None) -> Plan:
    """The plan with the sizes and waves refinement added, as the last pass file
    (``decision``) lists them; its runs keyed and paired like the configured ones."""
    if not decision or not plan.config["refine"]["enabled"]:
        return plan
    runs, skipped, datasets = list(plan.runs), list(plan.skipped), dict(plan.datasets)
    entries = {scale_of(e): e for e in plan.config["scales"]}
    for done in decision["history"]:
        for added in done["added"]:
            scale = added["scale"]
            series = Series.of(plan.machine, added)
            base = next(
                (
                    r
                    for r in runs
                    if r.scale == scale and r.series == series and r.spec.wave == 0
                ),
                None,
            )
            entry = entries.get(
                scale, {"scale": scale, "seconds": plan.config["refine"]["seconds"]}
            )
            run, skips, data = plan.planner.plan_scale(
                entry, series, added["wave"], base.spec.pairing if base else None
            )
            skipped += skips
            if run:
                runs.append(run)
                datasets[data.key] = data
    return replace(
        plan,
        runs=runs,
        skipped=skipped,
        datasets=datasets,
        refinement=decision["history"],
    )


def on_disk(plan: Plan) -> Plan:
    """The plan with the runs that the refinement's pass files already on disk add
    (reads only: a dry run may ask)."""
    if not plan.config["refine"]["enabled"]:
        return plan
    decision = decision_on_disk(plan.refine_dir)
    return refined(plan, decision)


def all_measured(plan: Plan) -> bool:
    """Whether every run of the plan, refinement's on disk included, has its
    timings."""
    return all(
        (Path(r.device_folder(d)) / "timings.csv").exists()
        for r in on_disk(plan).runs
        for d in r.spec.device_names
    )


def check_disk(runs: list, datasets: dict, free: int | None) -> None:
    """Refuse a sweep whose checkpoints cannot fit on the disk (``disk.py``). A job
    that reads the workflow again (it inherits the main process's facts) does not
    ask: the main process did, and the sweep's own files fill the disk since."""
    if os.environ.get(INHERITED):
        return
    short = shortage(runs, datasets, free)
    if short:
        raise PlanError(short)


def code_digests(scripts: Path) -> dict[str, str]:
    """The hash of the code behind each kind of result."""
    return {kind: keys.code_digest(scripts_of(kind), scripts) for kind in RULES}


@dataclass(frozen=True)
class Planner:
    """What every scale's plan shares: the config, devices, machine, code, memory."""

    machine: str
    config: dict
    devices: tuple[Device, ...]
    env: dict
    code: dict[str, str]
    free: dict[str, int]  # bytes free per memory pool
    facts: dict  # what torch offers here (probe.py)

    def plan_scales(self) -> tuple[list[ScaleRun], list[dict], dict[str, Dataset]]:
        """Every configured scale's run (those that fit), the rows of those that do
        not, and the datasets of the runs, keyed."""
        runs, skipped, datasets = [], [], {}
        for entry in self.config["scales"]:
            for values, _ in run_sections(self.config, entry):
                series = Series.of(self.machine, values)
                run, skips, dataset = self.plan_scale(entry, series)
                skipped += skips
                if run:
                    runs.append(run)
                    datasets[dataset.key] = dataset
        return runs, skipped, datasets

    def plan_scale(
        self, entry, series: Series, wave: int = 0, pairing: str | None = None
    ) -> tuple[ScaleRun | None, list[dict], Dataset]:
        """One scale's run on one curve (None if it cannot fit), its skipped rows, its
        dataset. A wave of extra processes (``wave`` > 0) is paired as its size's
        run was (``pairing``), so that the analysis can pool them."""
        spec = RunSpec.from_config(
            self.sections_of(entry, series),
            scale_of(entry),
            self.config["data"],
            self.devices,
            INTERLEAVED,
            self.env["torch"],
            self.code,
        )
        spec = replace(spec, wave=wave)
        try:
            spec.schedule()
        except ValueError as exc:  # a size refinement added to a curve (below)
            return None, self.skipped(spec, series, str(exc)), spec.data
        if pairing:
            return ScaleRun(self.machine, spec.with_pairing(pairing)), [], spec.data
        pairing, reason = choose_pairing(self.machine, self.free, spec, self.facts)
        if pairing is None:
            return None, self.skipped(spec, series, reason), spec.data
        why = reason if pairing == SEPARATE else ""
        return ScaleRun(self.machine, spec.with_pairing(pairing), why), [], spec.data

    def sections_of(self, entry, series: Series) -> dict[str, dict]:
        """One curve's effective ``train`` and ``timing`` at a scale entry: those the
        config lists for it, or, for a size refinement adds to a curve that the
        entry's own values leave out (an entry overriding ``batch_size``), the
        entry's settings with the curve's values."""
        for values, sections in run_sections(self.config, entry):
            if Series.of(self.machine, values) == series:
                return sections
        raw = scale_sections(self.config, entry)
        return {**raw, "train": {**raw["train"], **series.axes}}

    def skipped(self, spec: RunSpec, series: Series, reason: str) -> list[dict]:
        """The rows of a run that is not planned, one per device, with why."""
        row = {
            "scale": spec.scale,
            **series.axes,
            "params": spec.params,
            "reason": reason,
        }
        return [{**row, "device": d.name} for d in self.devices]

    def hardware(self) -> dict[str, dict]:
        """Each device's hardware probe, keyed."""
        probes = {}
        for device in self.devices:
            h = keys.hardware_settings(
                asdict(device),
                self.config["hardware"],
                self.env["torch"],
                self.code["hardware"],
                values_of(self.config["train"]["precision"]),
            )
            probes[device.name] = {**h, "key": keys.digest(h)}
        return probes


def with_host(facts: dict) -> dict:
    """The facts with the host's (``env.host_environment``: CPU model, usable cores,
    torch, ...), read here unless they came with them. They name the machine and
    enter every hardware tag, so a job that reads the workflow again inherits them
    with the rest (``probe.INHERITED``): on a node with another CPU, or in an
    ``srun`` step with a smaller cpuset, it plans the main process's keys."""
    return facts if "host" in facts else {**facts, "host": host_environment()}


def torch_environment(facts: dict) -> dict:
    """What the probe found about torch's threads and libraries, for the report."""
    threads, source = dev.all_threads(facts)
    return {
        "torch_blas": f"{facts['blas']} (threads set {facts['blas_threading']})",
        "torch_parallel": facts["parallel"],
        "cpu_threads_all": threads,
        "cpu_threads_all_source": source,
    }


def device_identity(device: str, threads: int, env: dict, facts: dict) -> Device:
    """What identifies a device's results: name, threads (``devices.device_threads``),
    hardware, hardware tag."""
    hardware = hardware_name(device, facts)
    identity = (
        accelerator_identity(facts["accelerators"][device])
        if device in facts["accelerators"]
        else hardware
    )
    return Device(
        name=device,
        threads=threads,
        hardware=hardware,
        hardware_tag=hardware_tag(identity, env),
    )


def free_memory(
    devices: list[str], given: dict[str, int] | None, facts: dict
) -> dict[str, int]:
    """Bytes free per memory pool: assumed, given, as the main process planned, or
    measured now (the host here; a CUDA device by the probe, in its own process)."""
    pools = {dev.memory_pool(d) for d in devices} | {"host"}
    assumed = os.environ.get(ASSUME_MEMORY)
    if assumed:
        return {p: assumed_memory(assumed) for p in pools}
    given = {**json.loads(os.environ.get(PLANNED_MEMORY, "{}")), **(given or {})}
    measured = {
        "host": available_host_memory,
        "cuda": lambda: facts["accelerators"]["cuda"]["free_bytes"],
    }
    return {p: int(given[p]) if p in given else measured[p]() for p in pools}


def assumed_memory(text: str) -> int:
    """The bytes ``SWEEP_ASSUME_MEMORY_BYTES`` says; PlanError if it is not a positive
    number of bytes."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value >= 1 and value != float("inf")):
        raise PlanError(
            f"{ASSUME_MEMORY}={text!r} is not a number of bytes: set it to the memory "
            "to plan with, a positive number such as 16e9, or unset it"
        )
    return int(value)


def choose_pairing(
    machine: str, free: dict[str, int], spec: RunSpec, facts: dict
) -> tuple[str | None, str]:
    """How a scale's devices are timed: interleaved in one process if their models fit
    in memory together and every device can run at its own threads there; else each
    in processes of its own (with the reason); None (with the reason) if even one
    model alone does not fit. A scale already measured keeps its results, whatever
    memory is free today. ``facts`` tell how torch's BLAS takes its threads
    (``devices.threads_fixed_at_load``)."""
    models, nbytes = spec.footprint()
    check = check_needs(models, nbytes)
    apart = why_apart(spec, models, nbytes, free, facts)
    for pairing in (INTERLEAVED, SEPARATE):
        run = ScaleRun(machine, spec.with_pairing(pairing))
        if all((Path(run.device_folder(d)) / "timings.csv").exists() for d in models):
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
    spec: RunSpec, models: dict, nbytes: int, free: dict[str, int], facts: dict
) -> str:
    """Why a scale's devices cannot share a process ("" if they can)."""
    threads = sorted({d.threads for d in spec.devices})
    if len(threads) > 1 and dev.threads_fixed_at_load(facts):
        return (
            f"torch's BLAS ({facts['blas']}) keeps the thread count it loaded with, "
            f"so devices with {' and '.join(map(str, threads))} threads cannot share "
            "a process"
        )
    together = timing_needs(models, nbytes)
    if not fits(together, free):
        return (
            f"the models did not fit in memory together ({shortfall(together, free)})"
        )
    return ""
