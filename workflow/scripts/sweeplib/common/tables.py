"""How the workflow reads its CSV tables back. A CSV file holds no types, and pandas
guesses them from the values: a run key of hex digits that looks like a number is
read as one (``407e22242544`` as the float inf, ``012345678901`` as the integer
12345678901), and then matches neither its folder nor its other rows. About one
12-digit key in 140 looks so: all decimal digits, or decimal digits around one
"e", each with odds of (10/16)^12 or so. Every table is read here, the columns
that name things as text."""

from __future__ import annotations

import os

import pandas as pd

# Columns that name things (hashes, hosts, devices, versions, folders): text,
# however their values look.
TEXT_COLUMNS = (
    "run_key",
    "hardware_tag",
    "dataset_sha256",
    "machine",
    "folder",
    "node",
    "device",
    "baseline",
    "device_name",
    "cpu_model",
    "python",
    "torch",
)


def read_csv(path: str | os.PathLike, nrows: int | None = None) -> pd.DataFrame:
    """A table as it was written, its ``TEXT_COLUMNS`` as text (its first ``nrows``
    rows only, where given: what is read of another machine is bounded)."""
    return pd.read_csv(path, dtype=dict.fromkeys(TEXT_COLUMNS, str), nrows=nrows)
