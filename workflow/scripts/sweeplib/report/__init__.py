"""What people read: the report, section by section (``sections``, with
``templates/``); its speedup table (``speedup_table``); the figures (``plots``,
``frontier_plots``); a machine whose share fails left out (``isolation``); the
verdict printed at the end (``verdict``); the report after a failed job
(``failed_run_report``).
"""
