"""The package's stages import only downward, as the rules run: ``report`` reads
``analyse`` and ``measure``, which read ``plan``, which reads ``common``; nothing
imports a stage above its own (a module may import its own stage's). Every import
counts, those inside functions and under ``TYPE_CHECKING`` too."""

import ast

from workflow_helpers import SCRIPTS

PACKAGE = SCRIPTS / "sweeplib"
# What each stage may import besides itself.
BELOW = {
    "common": set(),
    "plan": {"common"},
    "measure": {"plan", "common"},
    "analyse": {"plan", "common"},
    "report": {"analyse", "measure", "plan", "common"},
}


def imported(source: str, package: str) -> list[tuple[int, str]]:
    """(line, dotted name) of each module of this package that ``source`` imports,
    from inside ``package`` (``sweeplib.plan``); ``from X import a`` names ``X.a``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
    return [(n, m) for n, m in found if m.split(".")[0] == "sweeplib"]


def stage_of(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in BELOW else None


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(SCRIPTS)
        package = ".".join(rel.parent.parts)
        yield rel, package, path.read_text()


def climbs(rel, package: str, source: str) -> list[str]:
    here = stage_of(package)
    if here is None:
        return []
    return [
        f"{rel}:{line} imports {name} ({stage_of(name)} stands above {here})"
        for line, name in imported(source, package)
        if stage_of(name) not in (None, here) and stage_of(name) not in BELOW[here]
    ]


def test_every_module_is_in_a_stage():
    loose = [
        str(rel)
        for rel, package, _ in modules()
        if package == "sweeplib"
        and rel.name != "__init__.py"
        or package != "sweeplib"
        and stage_of(package) is None
    ]
    assert not loose, f"modules outside the stages {sorted(BELOW)}: {loose}"
    for stage in BELOW:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_no_import_climbs_the_stages():
    problems = [
        p for rel, package, source in modules() for p in climbs(rel, package, source)
    ]
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_climb_however_it_is_written():
    sources = [
        "from ..report.verdict import verdict\n",
        "from ..report import verdict\n",
        "def f():\n    from sweeplib.report.document import render\n",
        "import sweeplib.report.plots\n",
    ]
    for source in sources:
        assert climbs("plan/x.py", "sweeplib.plan", source), source
    assert not climbs("plan/x.py", "sweeplib.plan", "from ..common import keys\n")
    assert not climbs("plan/x.py", "sweeplib.plan", "from . import sweep\n")
