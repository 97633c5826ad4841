"""The frame of every workflow job: its log file, the stale temporary files of its
outputs, its failure in the log's last line, and a pause for interrupt tests."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .atomic import remove_stale_parts

# For the interrupt tests: "<rule>" makes the first job of that rule, once it has
# written all its outputs, leave <rule>.paused beside its own log and wait there,
# so that a test can kill it at that very moment. Unset in normal runs. It names a
# rule only: the job writes nowhere but in its own folder.
PAUSE_AFTER_OUTPUTS = "SWEEP_PAUSE_AFTER_OUTPUTS"
# The last line of a failed job's log starts so (the report quotes it).
FAILED = "failed: "


def job_logger(path: str, name: str) -> logging.Logger:
    """A logger writing to the job's log file (and nowhere else)."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.handlers[:] = [handler]
    return logger


@contextlib.contextmanager
def job(
    log_path: str, rule: str, outputs: Iterable[str] = ()
) -> Iterator[logging.Logger]:
    """Run a job's body with its logger. First, remove what a killed writer of its
    outputs left (``atomic.remove_stale_parts``: the job is being redone); if the body
    fails, its log ends with one line that says why; then, if a test asked, pause
    (see above)."""
    pause = paused_rule()
    logger = job_logger(log_path, rule)
    for part in remove_stale_parts(outputs):
        logger.info("removed %s, left by an interrupted write", part)
    try:
        yield logger
    except BaseException as exc:
        logger.error("%s%s", FAILED, one_line(exc))
        raise
    if pause == rule:
        Path(log_path).with_name(f"{rule}.paused").write_text(str(os.getpid()))
        time.sleep(3600)


def paused_rule() -> str:
    """The rule ``SWEEP_PAUSE_AFTER_OUTPUTS`` names ("" when unset); a value that is
    not a rule's name (a folder, say) is refused before the job does anything."""
    asked = os.environ.get(PAUSE_AFTER_OUTPUTS, "")
    if asked and not re.fullmatch(r"[a-z_]+", asked):
        raise ValueError(
            f"{PAUSE_AFTER_OUTPUTS}={asked!r}: it takes the name of a rule only (such "
            "as time_scale), and the job pauses beside its own log"
        )
    return asked


# A line of a traceback that names the error: "SomeError: what went wrong".
_ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception|Interrupt|Exit)\b.*")


def one_line(exc: BaseException) -> str:
    """An exception in one line: its type, its first line and, if it has more (a
    worker's failure quotes the worker's traceback), the last line there that names
    an error, or else its last line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    if len(lines) > 1:
        named = [line for line in lines[1:] if _ERROR_LINE.match(line)]
        text += f" … {(named or lines)[-1]}"
    return text
