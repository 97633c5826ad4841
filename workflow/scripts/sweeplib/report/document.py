"""The report as one document: ``templates/report.md.j2`` holds the prose, and each
section's values come from the module that computes them (``result``,
``notes``, ``cost_model``, ``post``, ``appendix``, ``failures``); here the head,
each machine's section, and the whole rendered (``render``), from the sweep with
every text other machines brought in escaped (``escaping``)."""

from __future__ import annotations

from pathlib import Path

import jinja2

from ..common.devices import ACCELERATORS
from ..common.formatting import md_text
from ..common.sizes import ModelSizes
from .appendix import environment, inference, runs, skipped, toy
from .cost_model import cost_model
from .escaping import escaped
from .failures import failed_runs, left_out
from .notes import refinement, speedup, warnings
from .post import post, the_posts_curve
from .result import frontier_section, result, summary_table
from .sweep import Machine, Sweep

RESOURCES = ("templates/report.md.j2",)


def render(sweep: Sweep) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    sweep = escaped(sweep)
    machines = sweep.machines()
    curves = [c for group in machines for c in group]
    several = len(machines) > 1
    return env.get_template("report.md.j2").render(
        head=head(sweep, curves[0]),
        summary=summary_table(curves),
        frontier=frontier_section(sweep, curves),
        machines=[machine_section(group, several) for group in machines],
        post=post(the_posts_curve(machines[0]), sweep.post),
        inference=inference(sweep, curves),
        toy=toy(sweep),
        skipped=skipped([group[0] for group in machines]),
        runs=runs(sweep),
        plan_key=sweep.plan_key,
        failed=failed_runs(sweep),
        left_out=left_out(sweep),
    )


def head(sweep: Sweep, here: Machine) -> dict:
    return {
        "architecture": ModelSizes.architecture(),
        "n_scales": len(here.manifest["scales"]),
        "n_machines": len(sweep.manifest["plans"]),
        "stand_in": not any(d in ACCELERATORS for d in here.manifest["devices"]),
        "unused": ", ".join(
            d.upper() for d in here.manifest["info"].get("accelerators", {})
        ),
        "cores": here.manifest["environment"]["usable_cores"],
    }


def machine_section(group: list[Machine], several: bool) -> dict:
    """One machine's section, its curves (one per value of each series axis) in
    turn; ``several``: the sweep has several machines."""
    m = group[0]
    labels = {k: v for c in group for k, v in c.labels.items()}
    base = m.manifest["baseline"]
    title = f"{'This machine' if m.here else 'Machine'}: {m.label}"
    return {
        "title": title,
        "folder": f"results/machines/{md_text(m.tag)}",
        "devices": ", ".join(labels.get(d, d) for d in m.manifest["devices"]),
        "baseline": labels.get(base, base),
        "warnings": list(dict.fromkeys(w for c in group for w in warnings(c))),
        "result": [
            _prefixed(line, [title] * several + [c.curve] * bool(c.curve))
            for c in group
            for line in result(c)
        ],
        "refinement": refinement(m),
        "curves": [
            {"title": c.curve, "speedup": speedup(c), "model": cost_model(c)}
            for c in group
        ],
        "environment": environment(m),
    }


def _prefixed(line: str, names: list[str]) -> str:
    return f"*{', '.join(names)}.* {line}" if names else line
