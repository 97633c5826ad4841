"""Cache keys follow the code that shapes each result: found from the imports, so no
module can be left out by hand."""

import shutil

import pytest

from sweeplib import keys
from sweeplib.plan import (
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
        "processes",
        "worker",
        "timing",
        "schedule",
        "model",
        "sizes",
        "data",
        "memory",
        "env",
        "devices",
        "checkpoint",
        "inference",
        "atomic",
        "logs",
    ):
        assert f"sweeplib/{module}.py" in found, module
    assert "time_scale.py" in found and "check_inference.py" in found
    assert "sweeplib/report.py" not in found  # the report does not shape a run


def test_a_modules_resources_count_as_its_code():
    assert "sweeplib/templates/report.md.j2" in names("write_report.py")


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
    (scripts / "sweeplib" / "plots.py").write_text("# edited\n")
    assert keys.code_digest(RUN_SCRIPTS, scripts) == before


def test_digest_ignores_key_order():
    assert (
        keys.digest({"a": 1, "b": [1, 2]})
        == keys.digest({"b": [1, 2], "a": 1})
        != keys.digest({"a": 2, "b": [1, 2]})
    )
