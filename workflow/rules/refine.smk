# Refinement (sweeplib/plan/refine.py): after each pass of measurements, a checkpoint
# decides which sizes, or batches of extra processes, the next pass measures; the
# workflow reads its decision, plans those runs like the configured ones (keyed,
# cached), and goes on until a pass stops (settled, or the budget spent).


checkpoint refine_sweep:
    input:
        unpack(refine_inputs),
    output:
        "results/refine/{chain}/after{n}.json",
    log:
        "results/refine/{chain}/after{n}.log",
    params:
        settings=refine_settings,
    script:
        "../scripts/refine_sweep.py"
