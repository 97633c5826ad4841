"""Tables read back as they were written: a run key or a tag of hex digits that looks
like a number stays text (``sweeplib/common/tables.py``), so a run whose key happens to
read as a number is aggregated like any other; and an aggregation left with no
machine at all fails with the reasons instead of handing on an empty table."""

import json
import re
from types import SimpleNamespace

import aggregate_results
import pandas as pd
import pytest

from sweeplib.analyse import gather
from sweeplib.common import keys
from sweeplib.common.atomic import write_csv
from sweeplib.common.tables import read_csv
from workflow_helpers import ROOT

# Keys pandas would read as numbers: a float that overflows to inf, a float, an
# integer that loses its leading zero. (About one 12-digit hex key in 140 has one
# of these shapes; test_faults.py drew 407e22242544 for scale 3 on an Intel Xeon.)
NUMBER_LIKE = ["407e22242544", "1234567890e1", "012345678901"]
MACHINE = "a-machine-00000001"


def test_pandas_alone_reads_these_keys_as_numbers(tmp_path):
    # What the reader guards against: if pandas stopped guessing, this fails and
    # tables.py can go.
    path = tmp_path / "t.csv"
    pd.DataFrame({"run_key": ["407e22242544"]}).to_csv(path, index=False)
    assert pd.read_csv(path)["run_key"].iloc[0] == float("inf")


@pytest.mark.parametrize("key", NUMBER_LIKE)
def test_a_key_that_looks_like_a_number_is_read_as_written(tmp_path, key):
    path = tmp_path / "t.csv"
    tag = "33729e10"
    write_csv(path, pd.DataFrame({"run_key": [key], "hardware_tag": [tag], "x": [1]}))
    frame = read_csv(path)
    assert frame["run_key"].tolist() == [key]
    assert frame["hardware_tag"].tolist() == [tag]
    assert pd.api.types.is_numeric_dtype(frame["x"])  # the rest is still guessed


def timings_file(key: str) -> str:
    """A one-window timing file of this machine at the path its key names."""
    folder = keys.DEVICE_RUN.format(machine=MACHINE, scale=3, key=key, device="cpu")
    path = f"{folder}/timings.csv"
    row = dict.fromkeys(gather.MINIMAL["timings"][0], 1)
    row |= {"run_key": key, "device": "cpu", "pairing": "interleaved", "scale": 3}
    row |= dict.fromkeys(gather.TIMES["timings"], 0.5)
    write_csv(path, pd.DataFrame([row]))
    return path


@pytest.mark.parametrize("key", NUMBER_LIKE)
def test_a_run_whose_key_looks_like_a_number_is_aggregated(tmp_path, monkeypatch, key):
    monkeypatch.chdir(tmp_path)
    where, frame = gather.read(timings_file(key))
    assert where.key == key and frame["run_key"].tolist() == [key]
    tables, notes = gather.gather({"timings": [timings_file(key)]}, MACHINE)
    assert notes == []
    assert tables["timings"]["run_key"].tolist() == [key]


class Named(list):
    """Snakemake's list of outputs, each also an attribute."""

    def __init__(self, **paths):
        super().__init__(paths.values())
        self.__dict__.update(paths)


def test_an_aggregation_whose_own_file_is_refused_fails_with_the_reason(
    tmp_path, monkeypatch
):
    # This machine's own file refused is raised (not left out), naming it.
    monkeypatch.chdir(tmp_path)
    bad = timings_file("0123456789ab")
    frame = read_csv(bad).assign(device="cuda")  # rows that are not what the path says
    write_csv(bad, frame)
    (tmp_path / "plan.json").write_text(json.dumps({"machine": MACHINE}))
    out = {name: str(tmp_path / f"out/{name}.csv") for name in gather.TABLES}
    job = SimpleNamespace(
        log=[str(tmp_path / "aggregate.log")],
        input=SimpleNamespace(
            plan=str(tmp_path / "plan.json"),
            timings=[bad],
            steps=[],
            inference=[],
            hardware=[],
        ),
        output=Named(**out, left_out=str(tmp_path / "out/left_out.csv")),
    )
    with pytest.raises(gather.Bad) as caught:
        aggregate_results.main(job)
    assert f"results/machines/{MACHINE}/runs/" in str(caught.value)
    assert "device 'cuda' in a file of device 'cpu'" in str(caught.value)
    assert not (tmp_path / "out").exists()  # no empty table handed on


def test_every_table_is_read_through_the_typed_reader():
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for base in ("workflow", "benchmarks", "tests")
        for p in sorted((ROOT / base).rglob("*.py"))
        if p.name not in ("tables.py", "test_tables.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\bpd\.read_csv\(", line)
    ]
    assert found == []
