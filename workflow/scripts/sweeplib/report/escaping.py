"""What came from other machines, made safe to print: every text from a machine's
files escaped for markdown and HTML before any section reads it."""

from __future__ import annotations

import dataclasses

import pandas as pd

from ..common.formatting import md_text
from .sweep import Sweep


def escaped(sweep: Sweep) -> Sweep:
    """The sweep with every text that came from a machine's files (its plan, its
    tables' text columns) escaped for markdown and HTML (``formatting.md_text``):
    a name holding ``|`` or ``<!--`` cannot break a table or hide the report's
    end. Legitimate names, keys and device names are unchanged."""
    plans = {tag: _escaped(plan) for tag, plan in sweep.manifest["plans"].items()}
    frames = {
        name: _escaped_frame(getattr(sweep, name))
        for name in ("cells", "table", "inference", "hardware", "timings")
    }
    return dataclasses.replace(
        sweep, manifest={**sweep.manifest, "plans": plans}, **frames
    )


def _escaped(obj):
    if isinstance(obj, dict):
        return {md_text(k): _escaped(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_escaped(v) for v in obj]
    return md_text(obj) if isinstance(obj, str) else obj


def _escaped_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A table's text columns escaped, but for ``machine``, which joins the tables to
    the plans (and is escaped where it is shown: ``escaped_tags``)."""
    texts = [
        c
        for c in frame.columns
        if c != "machine"
        and not pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    return frame.assign(
        **{
            c: frame[c].map(lambda v: md_text(v) if isinstance(v, str) else v)
            for c in texts
        }
    )


def escaped_tags(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{"machine folder": frame["machine folder"].map(md_text)})
