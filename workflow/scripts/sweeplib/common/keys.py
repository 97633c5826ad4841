"""Cache keys: what every result is keyed on, and where it lives.

A result's path holds a key, the first 12 hex digits of a SHA-256 over the
canonical JSON (sorted keys) of everything that determines it; docs/CACHING.md
lists what each kind of result is keyed on and what reruns when. "Code" is the
hash of the entry script that produces the result and of every module it
imports from this package, found by reading the imports (so a new module cannot
be forgotten), through the stages' subpackages and their relative imports; a
module that reads a file other than Python, or starts a module of this package
as a process of its own, lists it in a module-level ``RESOURCES`` tuple (a
listed module's imports count too).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from pathlib import Path

from .devices import ACCELERATORS

# Where each result lives: the one place its path is written. The rules name their
# inputs, outputs and logs from these (a template's fields, {machine}, {scale},
# {key}, ..., are their wildcards), and the code that finds a result formats the
# same template; {key} is a cache key. What a machine measured lives in a folder of
# its own ({machine}: ``machines.machine_tag``), with its description and its plan,
# so that copying the folder brings it to another checkout (docs/MACHINES.md).
DATASET = "results/datasets/scale{scale}/{key}.pt"
DATASET_LOG = "results/datasets/scale{scale}/{key}.log"
MACHINE = "results/machines/{machine}"
MACHINE_INFO = MACHINE + "/machine.json"
MACHINE_PLAN = MACHINE + "/plan.json"
RUN = MACHINE + "/runs/scale{scale}/{key}"
DEVICE_RUN = RUN + "/{device}"
TIME_LOG = RUN + "/time.log"
CHECK_LOG = RUN + "/check.log"
HARDWARE = MACHINE + "/hardware/{device}/{key}.csv"
HARDWARE_LOG = MACHINE + "/hardware/{device}/{key}.log"
TOY = "results/toy/{key}"
# Refinement's passes: one file per pass n, the decision taken once pass n (0: the
# configured sizes) was measured; {chain} keys the refinement (``sweep.refine_chain``).
REFINE_DIR = "results/refine/{chain}"
PASS_FILE = "after{n}.json"
REFINE_PASS = REFINE_DIR + "/" + PASS_FILE
REFINE_LOG = REFINE_DIR + "/after{n}.log"
# What the aggregation reads and writes (not keyed: the plan is rewritten whenever
# it changes, and all that reads it reruns; see plan_files.py).
PLAN = "results/plan/sweep.json"
PLAN_CHANGE = "results/plan/change-{stamp}.stamp"
AGGREGATE = {
    name: f"results/aggregate/{name}.csv"
    for name in ("timings", "steps", "inference", "hardware", "left_out")
}
ANALYSIS = {
    "cells": "results/analysis/cells.csv",
    "speedup": "results/analysis/speedup.csv",
    "analysis": "results/analysis/analysis.json",
}
FIGURES = {
    "speedup": "results/crossover.png",
    "step_time": "results/step_time.png",
    "frontier": "results/frontier.png",
    "speedup_map": "results/speedup_map.png",
}
REPORT = "results/report.md"
VERDICT = "results/verdict.txt"  # what the run found, printed when it ends
LOG = "results/logs/{job}.log"  # a job's log, where its result has no folder

# What each field of those paths may hold: the rules' wildcard constraints and the
# pattern an imported machine's files are checked against (gather.py). A scale is a
# positive number of at most two decimals, named canonically (sizes.canonical_scale:
# 2, never 2.0), so that 1.5 and 15 never share a folder.
FIELDS = {
    "machine": r"[a-z0-9+-]+",
    "scale": r"\d+(?:\.\d{1,2})?",
    "key": r"[0-9a-f]{12}",
}

PACKAGE = "sweeplib"


def digest(obj) -> str:
    """A short, stable hash of a JSON-able object (sorted keys: key order never
    matters)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def code_files(script: str | Path, scripts_dir: str | Path) -> list[Path]:
    """The entry script and every file of this package it depends on, transitively."""
    scripts_dir = Path(scripts_dir)
    seen: set[Path] = set()
    todo = [scripts_dir / script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.suffix != ".py":
            continue
        package = _package_of(path, scripts_dir)
        modules, resources = _references(path.read_text(), package)
        todo += [f for m in modules for f in _files_of(m, scripts_dir)]
        todo += [path.parent / r for r in resources]
    return sorted(seen)


def _package_of(path: Path, scripts_dir: Path) -> str | None:
    """The dotted package of a file of this package (``sweeplib.plan`` for
    ``sweeplib/plan/sweep.py``), against which its relative imports are read; None
    for an entry script."""
    parts = path.parent.relative_to(scripts_dir).parts
    return ".".join(parts) if parts and parts[0] == PACKAGE else None


def _files_of(module: str, scripts_dir: Path) -> list[Path]:
    """The files of this package that importing ``module`` (dotted) runs: its own, and
    the ``__init__.py`` of each package on its way that holds code (a docstring alone
    changes no result)."""
    parts = module.split(".")
    files = [
        init
        for n in range(1, len(parts) + 1)
        if (init := scripts_dir.joinpath(*parts[:n], "__init__.py")).is_file()
        and _has_code(init.read_text())
    ]
    leaf = scripts_dir.joinpath(*parts[:-1], parts[-1] + ".py")
    return files + [leaf] if leaf.is_file() else files


def code_digest(scripts: list[str], scripts_dir: str | Path) -> str:
    """Hash of the files that produce a result: edit one, and its results are
    recomputed."""
    scripts_dir = Path(scripts_dir)
    files = sorted({p for script in scripts for p in code_files(script, scripts_dir)})
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(scripts_dir)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


# --- what each result is keyed on ---------------------------------------------


def hardware_settings(
    device: dict,
    probe: dict,
    torch_version: str,
    code: str,
    precisions: list[str] = ("float32",),
) -> dict:
    """A device's probe: the config's sizes (``hardware.accelerator``'s on CUDA and
    MPS, large enough to keep a GPU busy), repeats and least seconds per sample,
    and the precisions whose matrix throughput it measures (float32 always, and
    each precision the sweep trains in)."""
    sizes = probe["accelerator"] if device["name"] in ACCELERATORS else probe
    return {
        "precisions": sorted({"float32", *precisions}),
        "device": device,
        "copy_mib": sizes["copy_mib"],
        "matmul_n": sizes["matmul_n"],
        "repeats": probe["repeats"],
        "min_s": probe["min_seconds"],
        "torch": torch_version,
        "code": code,
    }


def toy_settings(torch_version: str, code: str) -> dict:
    return {"torch": torch_version, "code": code}


@functools.lru_cache(maxsize=512)
def _references(
    text: str, package: str | None
) -> tuple[frozenset[str], tuple[str, ...]]:
    """The dotted names of this package's modules a source imports (absolutely, or
    relatively when it is a module of ``package``), and the files its ``RESOURCES``
    names. A pure function of the text: a file read again unchanged is not parsed
    again."""
    tree = ast.parse(text)
    return frozenset(_imported_modules(tree, package)), tuple(_resources(tree))


@functools.lru_cache(maxsize=64)
def _has_code(text: str) -> bool:
    """Whether a source holds more than its docstring and ``__future__`` imports."""
    body = ast.parse(text).body
    return any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
        for node in body
    )


def _imported_modules(tree: ast.AST, package: str | None) -> set[str]:
    """``import sweeplib.a.b`` names ``sweeplib.a.b``; ``from X import n`` names both
    ``X`` and ``X.n`` (``n`` may be a module: ``from ..common import keys``), with a
    relative ``X`` read against ``package``. Names that are no file are dropped by
    ``_files_of``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if _ours(a.name))
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            if module is not None and _ours(module):
                found.add(module)
                found.update(f"{module}.{a.name}" for a in node.names)
    return found


def _absolute(node: ast.ImportFrom, package: str | None) -> str | None:
    if not node.level:
        return node.module
    if package is None or node.level > package.count(".") + 1:
        return None
    parts = package.split(".")[: package.count(".") + 2 - node.level]
    return ".".join(parts + ([node.module] if node.module else []))


def _ours(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _resources(tree: ast.Module) -> list[str]:
    """Files named in a module-level ``RESOURCES = (...)``."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", None) == "RESOURCES" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return []
