"""Logging of workflow jobs to their Snakemake log file."""

from __future__ import annotations

import logging


def job_logger(path: str, name: str) -> logging.Logger:
    """A logger writing to the job's log file (and nowhere else)."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.handlers[:] = [handler]
    return logger
