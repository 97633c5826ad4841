"""Shared code of the CPU-versus-accelerator training benchmark.

The workflow's entry scripts (one per rule, in ``workflow/scripts/``) are thin:
they read Snakemake's inputs and call plain functions from this package, which
the tests import directly. Its subpackages are the rules' stages, and each one's
``__init__.py`` says what its modules do:

- ``plan``: the config and the plan of runs, made while Snakemake reads the
  workflow, and other machines' folders;
- ``measure``: the jobs that train, time and check (they import torch);
- ``analyse``: what was measured, gathered, checked and analysed, and the next
  refinement pass;
- ``report``: the report, its figures, and what is printed when a run ends;
- ``common``: the ground floor every stage shares (writes, tables, logs, keys,
  sizes, devices, this machine, Snakemake's invocation and locks).

Imports only go down: ``report`` -> ``analyse`` and ``measure`` -> ``plan`` ->
``common`` (``tests/test_layers.py``). Snakemake's own process never imports
torch: ``training``, ``timing``, ``hardware``, ``checkpoint``, ``inference``,
``model`` and ``data`` (in ``measure``) import it at their top; ``measure.toy``,
``common.atomic.torch_save``, the device functions of ``common.devices``
(detection, placement, sync), ``common.env.last_level_cache`` and
``plan.probe.probe`` import it inside the function that needs it, and the probe
runs in a process of its own.

How a run travels: ``config/config.yaml`` is validated with the schema's defaults
(``plan.config.validate_config``); each scale entry's effective ``train`` and
``timing`` sections, one per combination of the series axes' values
(``plan.config.run_sections``; ``common.series``), become a
``plan.runspec.RunSpec`` with the devices the probe found
(``plan.sweep.Planner``), whose pairing ``plan.sweep.choose_pairing`` settles;
``RunSpec.key`` names its folder. The rule passes ``RunSpec.to_json()`` as its
only parameter; ``time_scale.py`` reads it back (``from_json``) into a
``measure.processes.ScaleJob``, which gives each of ``RunSpec.processes()`` a spec
(``measure.processes.worker_spec``) that a fresh ``python -m
sweeplib.measure.worker`` reads back into the same ``RunSpec``. Nothing on the
way reads a run's settings by string. A new setting that changes what is
measured belongs in ``RunSpec`` (and so in the key); one that only changes the
analysis belongs in ``analyse.analysis`` and the plan files.
"""
