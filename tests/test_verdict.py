"""The run ends with what it found: this machine's statement, as the report words it,
and where the report is."""

import pytest

from sweeplib.report.verdict import VERDICT, print_verdict


@pytest.mark.workflow
def test_the_run_ends_with_the_statement_and_where_the_report_is(finished_run):
    project, printed = finished_run
    verdict = (project / VERDICT).read_text()
    assert verdict.strip() in printed
    lines = verdict.splitlines()
    assert lines[0].startswith("What this run found on ")
    statements = [line[2:] for line in lines if line.startswith("- ")]
    # The tiny sweep compares two devices: a statement names both (then, unless the
    # baseline wins throughout, by how much).
    assert any("CPU, 2 threads" in s and "CPU, 1 thread" in s for s in statements)
    report = (project / "results/report.md").read_text().replace("**", "")
    for statement in statements:
        assert statement in report
    assert lines[-1].startswith("The report: results/report.md")
    assert "snakemake --report results/report.html" in lines[-1]


def test_nothing_is_printed_without_a_verdict(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    print_verdict()
    assert capsys.readouterr().out == ""
    (tmp_path / "results").mkdir()
    (tmp_path / VERDICT).write_text("What this run found on here:\n")
    print_verdict()
    assert "What this run found on here:" in capsys.readouterr().out
