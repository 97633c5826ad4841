"""The frame of every workflow job: its log file, and a pause for interrupt tests."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

# For the interrupt tests: "<rule>=<folder>" makes the first job of that rule,
# once it has written all its outputs, leave <folder>/<rule>.paused and wait
# there, so that a test can kill it at that very moment. Unset in normal runs.
PAUSE_AFTER_OUTPUTS = "SWEEP_PAUSE_AFTER_OUTPUTS"


def job_logger(path: str, name: str) -> logging.Logger:
    """A logger writing to the job's log file (and nowhere else)."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.handlers[:] = [handler]
    return logger


@contextlib.contextmanager
def job(log_path: str, rule: str) -> Iterator[logging.Logger]:
    """Run a job's body with its logger; then, if a test asked, pause (see above)."""
    yield job_logger(log_path, rule)
    asked = os.environ.get(PAUSE_AFTER_OUTPUTS, "")
    if asked.partition("=")[0] == rule:
        Path(asked.partition("=")[2], f"{rule}.paused").write_text(str(os.getpid()))
        time.sleep(3600)
