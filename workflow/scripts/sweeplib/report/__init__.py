"""What people read: the report, rendered from ``templates/`` (``document``), from
the sweep and its share per curve (``sweep``), section by section: the result and
the frontier (``result``), each machine's warnings, refinement and speedup notes
(``notes``), its cost model (``cost_model``), the post's table beside ours
(``post``), the reference tables (``appendix``), the folders left out and failed
runs (``failures``), with what other machines brought in escaped (``escaping``);
its speedup table (``speedup_table``); the figures (``plots``, ``frontier_plots``);
a machine whose share fails left out (``isolation``); the verdict printed at the
end (``verdict``); the report after a failed job (``failed_run_report``).
"""
