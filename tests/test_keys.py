"""Cache keys follow the code that shapes each result: found from the imports, so no
module can be left out by hand."""

import shutil

import pytest

from sweeplib.common import keys
from sweeplib.plan.sweep import (
    AGGREGATION_SCRIPTS,
    DATA_SCRIPTS,
    HARDWARE_SCRIPTS,
    REFINE_SCRIPTS,
    RUN_SCRIPTS,
    TOY_SCRIPTS,
)
from workflow_helpers import SCRIPTS

ALL_SCRIPTS = (
    DATA_SCRIPTS
    + RUN_SCRIPTS
    + HARDWARE_SCRIPTS
    + TOY_SCRIPTS
    + AGGREGATION_SCRIPTS
    + REFINE_SCRIPTS
)


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


def test_every_entry_script_is_keyed():
    on_disk = {p.name for p in SCRIPTS.glob("*.py")}
    assert on_disk == set(ALL_SCRIPTS) | {
        "write_plan.py"
    }  # the plan's writer only copies the plan


@pytest.fixture
def scripts(tmp_path):
    copy = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_editing_any_imported_module_changes_the_key(scripts):
    for group in (
        RUN_SCRIPTS,
        DATA_SCRIPTS,
        HARDWARE_SCRIPTS,
        TOY_SCRIPTS,
        AGGREGATION_SCRIPTS,
    ):
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
