"""Shared code of the CPU-versus-accelerator training benchmark.

The workflow's entry scripts (one per rule, in ``workflow/scripts/``) are thin:
they read Snakemake's inputs and call plain functions from these modules, which
the tests import directly. Where to look:

- the experiment: ``sizes`` (the model's widths, parameter count, bytes and
  FLOPs per step), ``model``, ``data`` (the synthetic data and its loaders),
  ``toy`` (the post's Part 1);
- the config and the plan: ``config`` (validation, renamed keys, each scale's
  effective settings), ``runspec`` (a run, typed), ``schedule`` (which steps a
  process runs and times), ``devices`` (names, threads, pools, sync),
  ``probe`` (what torch offers here, asked in a process of its own),
  ``memory`` (footprints), ``plan`` (scales into keyed runs), ``keys`` (how
  every cache key is formed, and which code each result depends on),
  ``machines`` (results folders, hardware tags, labels, other machines'
  plans), ``imports`` (other machines' folders: checked, paths derived),
  ``manifest`` (the plan files), ``disk`` (the space a sweep still needs),
  ``cluster`` (what a cluster gives each job), ``startup`` (what happens
  while Snakemake reads the workflow), ``refine`` (where to measure next, as
  plain rules) and ``passes`` (one pass of refinement, from the windows
  measured so far);
- the measurement: ``timing`` (how a step is timed; rounds of interleaved
  windows), ``worker`` (one timing process's entry) and ``training`` (its
  work), ``processes`` (a scale's job: its processes and each device's
  files), ``checkpoint``, ``inference``, ``hardware``, ``env``;
- the analysis: ``speedup`` (paired ratios and their intervals), ``crossover``
  (how the crossover is computed and stated), ``costmodel`` (the cache and
  memory regimes), ``clocks`` (a window's host and device clocks compared),
  ``analysis`` (cells, bounds, and all of it together);
- the output: ``rows`` (every machine's files, checked as they are
  aggregated), ``report`` (what the report says, section by section, with
  ``templates/report.md.j2``), ``plots``, ``formatting``, ``isolation``
  (another machine whose share of the figures or report fails is left out),
  ``verdict`` (what the run found, printed when it ends), ``aftermath`` (the
  report after a failed job);
- the plumbing: ``atomic`` (complete-or-absent writes), ``tables`` (CSV tables
  read back, the columns that name things as text), ``logs`` (a job's log),
  ``invocation`` (whether Snakemake will run jobs), ``locks`` (stale locks,
  removed only when provably stale).

How a run travels, for the next engineer: ``config/config.yaml`` is validated
with the schema's defaults (``config.validate_config``); each scale entry's
effective ``train`` and ``timing`` sections (``config.scale_sections``) become a
``runspec.RunSpec`` with the devices the probe found (``plan.Planner``), whose
pairing ``plan.choose_pairing`` settles; ``RunSpec.key`` names its folder. The
rule passes ``RunSpec.to_json()`` as its only parameter; ``time_scale.py``
reads it back (``from_json``) into a ``processes.ScaleJob``, which gives each of
``RunSpec.processes()`` a spec (``processes.worker_spec``) that a fresh
``python -m sweeplib.worker`` reads back into the same ``RunSpec``. Nothing on
the way reads a run's settings by string. A new setting that changes what is
measured belongs in ``RunSpec`` (and so in the key); one that only changes the
analysis belongs in ``analysis`` and the manifest.

The imports have no cycles. They run from the entry scripts through the output
and analysis modules to the plan and config, and from there to the experiment
and plumbing, with three exceptions: the plan reads the machine's description
from ``env`` (the hardware's name, the host), the probe the CPU's model from it,
and ``startup`` starts ``aftermath``'s report after a failed job. ``training``,
``timing``, ``hardware``, ``checkpoint``, ``inference``, ``model`` and ``data``
import torch at their top; ``toy``, ``atomic.torch_save``, the device functions
of ``devices`` (detection, placement, sync), ``env.last_level_cache`` and
``probe.probe`` import it inside the function that needs it. Snakemake's own
process never imports torch: the probe runs in a process of its own.
"""
