"""Shared code of the CPU-versus-accelerator training benchmark.

The workflow's entry scripts (one per rule, in ``workflow/scripts/``) are thin:
they read Snakemake's inputs and call plain functions from these modules, which
the tests import directly. Where to look:

- the experiment: ``sizes`` (the model's widths and parameter count), ``model``,
  ``data`` (the synthetic data and its loaders), ``toy`` (the post's Part 1);
- the config and the plan: ``config`` (validation, renamed keys, each scale's
  settings), ``schedule`` (which steps a process runs and times), ``devices``,
  ``memory`` (footprints and whether models can share a process), ``plan``
  (scales into keyed runs), ``keys`` (how every cache key is formed, and which
  code each result depends on);
- the measurement: ``timing`` (how a step is timed; rounds of interleaved
  windows), ``worker`` (one timing process), ``processes`` (a scale's job: its
  processes and each device's files), ``checkpoint``, ``inference``,
  ``hardware``, ``env``;
- the analysis: ``speedup`` (paired ratios and their intervals), ``crossover``
  (how the crossover is computed and stated), ``costmodel`` (the cache and
  memory regimes), ``analysis`` (cells, and all of it together);
- the output: ``report`` (what the report says, section by section, with
  ``templates/report.md.j2``), ``plots``, ``formatting``;
- the plumbing: ``atomic`` (complete-or-absent writes), ``logs`` (a job's log),
  ``invocation`` (whether Snakemake will run jobs), ``locks`` (stale locks).
"""
