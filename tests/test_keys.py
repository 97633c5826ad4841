"""Cache keys follow the code that shapes each result: found from the imports, so no
module can be left out by hand."""

import copy
import re
import shutil

import pytest

from sweeplib.common import keys
from sweeplib.plan.sweep import RULES, UNKEYED, plan_sweep, script_of, scripts_of
from synthetic import facts
from workflow_helpers import ROOT, SCHEMA, SCRIPTS, TINY

RUN_SCRIPTS = scripts_of("run")
# A rule of the Snakefile or of workflow/rules/*.smk: its name and its body (up to the
# next line that is not indented).
RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^\S|\Z)", re.M | re.S)
# What each rule under a kind of result writes, as the rules name it: one of these
# (a rule listed under another kind than the result it writes would hash its script
# into the wrong key).
WRITES = {
    "data": ("keys.DATASET",),
    "run": ("device_files(",),
    "hardware": ("keys.HARDWARE",),
    "toy": ("toy_file(",),
    "refine": ("keys.REFINE_PASS",),
    "aggregation": ("keys.AGGREGATE", "keys.ANALYSIS", "keys.FIGURES", "keys.REPORT"),
}
# Where each kind of result's key is in the plan.
RESULT_KEYS = {
    "data": lambda plan: sorted(plan.datasets),
    "run": lambda plan: [r.key for r in plan.runs],
    "hardware": lambda plan: [h["key"] for h in plan.hardware.values()],
    "toy": lambda plan: plan.toy_key,
    "aggregation": lambda plan: plan.aggregation_code,
    "refine": lambda plan: plan.refine_chain,
}


def names(script):
    return {str(p.relative_to(SCRIPTS)) for p in keys.code_files(script, SCRIPTS)}


def test_a_run_depends_on_what_its_scripts_import_transitively():
    found = names("time_scale.py") | names("check_inference.py")
    # The timing job's own imports, the worker it starts, and what they import in turn
    # (memory.py and env.py shape the columns of timings.csv).
    for module in (
        "measure/processes",
        "measure/worker",
        "measure/timing",
        "plan/schedule",
        "measure/model",
        "common/sizes",
        "measure/data",
        "common/memory",
        "common/env",
        "common/devices",
        "measure/checkpoint",
        "measure/inference",
        "common/atomic",
        "common/logs",
    ):
        assert f"sweeplib/{module}.py" in found, module
    assert "time_scale.py" in found and "check_inference.py" in found
    assert "sweeplib/report/document.py" not in found  # the report does not shape a run


def test_a_modules_resources_count_as_its_code():
    assert "sweeplib/report/templates/report.md.j2" in names("write_report.py")


def rule_bodies() -> dict[str, str]:
    """Each rule's body, as the rule files write it."""
    files = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]
    return {
        name: body for path in files for name, body in RULE.findall(path.read_text())
    }


def directive(body: str, name: str) -> str:
    """A directive of a rule's body (``script``, ``output``, ...), "" if it has none."""
    found = re.search(rf"^    {name}:\n(.*?)(?=^    \w+:|\Z)", body, re.M | re.S)
    return found.group(1).strip() if found else ""


def test_every_rule_runs_the_script_the_plan_keys():
    """A rule takes its script from the plan's lists (``entry_script``), under its own
    name: one listed under no kind of result stops the workflow as it is read
    (``script_of``), unless it is listed as unkeyed; and every entry script on disk
    is a rule's."""
    bodies = rule_bodies()
    scripts = {r: s for r, body in bodies.items() if (s := directive(body, "script"))}
    assert scripts, "no rule's script found: has the rules' layout changed?"
    for rule, written in scripts.items():
        assert written == f'entry_script("{rule}")', rule
    assert set(scripts) == {r for rules in RULES.values() for r in rules} | set(UNKEYED)
    assert {p.name for p in SCRIPTS.glob("*.py")} == {script_of(r) for r in scripts}
    with pytest.raises(KeyError, match="RULES"):
        script_of("a_new_rule")


def test_every_rule_is_listed_under_the_result_it_writes():
    bodies = rule_bodies()
    assert set(WRITES) == set(RULES)
    for kind, rules in RULES.items():
        others = [w for k, written in WRITES.items() if k != kind for w in written]
        for rule in rules:
            output = directive(bodies[rule], "output")
            assert any(w in output for w in WRITES[kind]), (rule, kind, output)
            assert not any(w in output for w in others), (rule, kind, output)


@pytest.fixture
def scripts(tmp_path):
    copy = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_editing_a_rules_script_changes_the_key_of_its_result(scripts):
    """Through the plan: each rule's script is hashed into the key of the result it
    makes (a result downstream of it may change too: a run is keyed on its dataset);
    an unkeyed rule's script into none."""
    assert set(RESULT_KEYS) == set(RULES)

    def result_keys():
        plan = plan_sweep(
            copy.deepcopy(TINY), scripts, SCHEMA, facts(), {"host": 2**40}
        )
        return {kind: found(plan) for kind, found in RESULT_KEYS.items()}

    before = result_keys()
    for rule in [r for rules in RULES.values() for r in rules] + list(UNKEYED):
        path = scripts / script_of(rule)
        text = path.read_text()
        path.write_text(text + "\n# edited\n")
        changed = {k for k, v in result_keys().items() if v != before[k]}
        path.write_text(text)
        kinds = {kind for kind, rules in RULES.items() if rule in rules}
        assert kinds <= changed if kinds else not changed, (rule, changed)


def test_editing_any_imported_module_changes_the_key(scripts):
    for group in map(scripts_of, RULES):
        files = sorted({p for s in group for p in keys.code_files(s, scripts)})
        assert len(files) > len(group)
        before = keys.code_digest(group, scripts)
        for path in files:
            text = path.read_text()
            path.write_text(text + "\n# edited\n")
            assert keys.code_digest(group, scripts) != before, (
                f"editing {path.name} left the key of {group} unchanged"
            )
            path.write_text(text)
            assert keys.code_digest(group, scripts) == before


def test_editing_a_module_nothing_imports_keeps_the_key(scripts):
    before = keys.code_digest(RUN_SCRIPTS, scripts)
    (scripts / "sweeplib" / "report" / "plots.py").write_text("# edited\n")
    assert keys.code_digest(RUN_SCRIPTS, scripts) == before


def test_digest_ignores_key_order():
    assert (
        keys.digest({"a": 1, "b": [1, 2]})
        == keys.digest({"b": [1, 2], "a": 1})
        != keys.digest({"a": 2, "b": [1, 2]})
    )


def test_imports_are_followed_across_subpackages(tmp_path):
    """Relative imports up and across stages, ``from . import``, absolute dotted
    imports and a module's ``RESOURCES``; a package's ``__init__.py`` counts when it
    holds code, not when it holds a docstring alone."""
    files = {
        "entry.py": "from sweeplib.top import a\nimport sweeplib.low.c\n",
        "sweeplib/__init__.py": '"""The package."""\n',
        "sweeplib/top/__init__.py": '"""A stage."""\n',
        "sweeplib/top/a.py": "from . import b\nfrom ..low.d import f\n",
        "sweeplib/top/b.py": 'RESOURCES = ("data/t.txt",)\n',
        "sweeplib/top/data/t.txt": "text",
        "sweeplib/low/__init__.py": "X = 1\n",
        "sweeplib/low/c.py": "",
        "sweeplib/low/d.py": "def f():\n    from .e import g\n",
        "sweeplib/low/e.py": "def g():\n    pass\n",
        "sweeplib/low/unused.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = {
        p.relative_to(tmp_path).as_posix()
        for p in keys.code_files("entry.py", tmp_path)
    }
    assert found == {
        "entry.py",
        "sweeplib/top/a.py",
        "sweeplib/top/b.py",
        "sweeplib/top/data/t.txt",
        "sweeplib/low/__init__.py",
        "sweeplib/low/c.py",
        "sweeplib/low/d.py",
        "sweeplib/low/e.py",
    }
