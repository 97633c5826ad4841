# Refinement (sweeplib/plan/refine.py): after each pass of measurements, a checkpoint
# decides which sizes, or waves of extra processes, the next pass measures; the
# workflow reads its decision, plans those runs like the configured ones (keyed,
# cached), and goes on until a pass stops (settled, or the budget spent).


checkpoint refine_sweep:
    input:
        unpack(refine_inputs),
    output:
        keys.REFINE_PASS,
    log:
        keys.REFINE_LOG,
    params:
        settings=refine_settings,
    script:
        entry_script("refine_sweep")
