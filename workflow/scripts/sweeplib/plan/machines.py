"""Machines, and one word for each idea about them:

- the **machine** is a results folder, ``results/machines/<machine>/``, named by
  ``machine_tag``: every row of the aggregated tables says which one it comes
  from, in its ``machine`` column;
- the **hardware tag** (``hardware_tag``) is a short hash, per device, of the
  hardware class and software a result belongs to; runs carry it, so tables
  never mix hardware silently;
- the **node** is the host name a process ran on (a cluster has several);
- the **label** (``machine_label``) is how the report and the plots name a
  machine to a reader.

This module also describes this machine (its ``machine.json``); the folders of
other machines, copied in, are checked and read by ``brought_in.py``.
"""

from __future__ import annotations

import hashlib
import re

from .brought_in import FORMAT

# What tells two accelerators of one name apart, where the probe reads it.
DISTINGUISHING = (
    "capability",
    "total_bytes",
    "multiprocessors",
    "gpu_cores",
    "recommended_max_bytes",
)


def _hash(parts: list[str]) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


def accelerator_identity(facts: dict) -> str:
    """An accelerator's name with what distinguishes models of that name (compute
    capability, memory, core counts), from the probe's facts (``probe.py``)."""
    extra = [f"{k}={facts[k]}" for k in DISTINGUISHING if facts.get(k) is not None]
    return ";".join([facts["name"], *extra])


def machine_tag(env: dict, accelerators: dict[str, str]) -> str:
    """The name of this machine's results folder: readable, and unique to its CPU,
    core count, torch build and accelerators (``accelerators`` maps each accelerator
    device to its identity, ``accelerator_identity``)."""
    parts = [env["cpu_model"], str(env["usable_cores"]), env["torch"]]
    parts += [f"{d}={n}" for d, n in sorted(accelerators.items())]
    cpu = re.sub(r"[^a-z0-9]+", "-", env["cpu_model"].lower()).strip("-")[:24]
    kinds = "+".join(sorted(accelerators)) or "cpu"
    return f"{cpu.strip('-')}-{env['usable_cores']}c-{kinds}-{_hash(parts)}"


def hardware_tag(hardware: str, env: dict) -> str:
    """A device's hardware tag: two results share one only if they have the same
    device, CPU model, core count and torch build."""
    return _hash([hardware, env["cpu_model"], str(env["usable_cores"]), env["torch"]])


def describe_machine(env: dict, facts: dict) -> tuple[str, dict]:
    """This machine's folder name, and its description (``machine.json``)."""
    accelerators = {d: a["name"] for d, a in facts["accelerators"].items()}
    identities = {d: accelerator_identity(a) for d, a in facts["accelerators"].items()}
    machine = machine_tag(env, identities)
    return machine, {
        "format": FORMAT,
        "tag": machine,
        **env,
        "accelerators": accelerators,
        "accelerator_details": facts["accelerators"],
    }


def machine_label(info: dict) -> str:
    """A machine as tables and plots name it (``info``: its machine.json)."""
    accelerators = ", ".join(info["accelerators"].values())
    extra = f" + {accelerators}" if accelerators else ""
    cores = f"{info['usable_cores']} cores"
    return f"{info['cpu_model']}, {cores}{extra}, torch {info['torch']}"
