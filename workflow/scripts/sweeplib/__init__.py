"""Shared code of the CPU-versus-accelerator training benchmark.

The workflow's entry scripts (one per rule, in ``workflow/scripts/``) are thin:
they read Snakemake's inputs and call plain functions from these modules, which
the tests import directly.
"""
