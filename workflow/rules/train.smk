# Timed jobs claim every core (threads: workflow.cores), so no other job runs
# beside one, whatever --cores is; each script sets its own torch threads from
# the run's settings (one for cpu1, all usable cores for cpu).


rule train_model:
    input:
        dataset=run_dataset,
    output:
        checkpoint="results/runs/scale{scale}/{device}/{key}/checkpoint.pt",
        predictions="results/runs/scale{scale}/{device}/{key}/predictions.pt",
        steps="results/runs/scale{scale}/{device}/{key}/steps.csv",
        epochs="results/runs/scale{scale}/{device}/{key}/epochs.csv",
        settings="results/runs/scale{scale}/{device}/{key}/settings.json",
        timings="results/runs/scale{scale}/{device}/{key}/timings.csv",
    log:
        "results/runs/scale{scale}/{device}/{key}/train.log",
    threads: workflow.cores
    params:
        settings=run_settings,
    script:
        "../scripts/train_model.py"


rule check_inference:
    input:
        dataset=run_dataset,
        checkpoint="results/runs/scale{scale}/{device}/{key}/checkpoint.pt",
        predictions="results/runs/scale{scale}/{device}/{key}/predictions.pt",
    output:
        "results/runs/scale{scale}/{device}/{key}/inference.csv",
    log:
        "results/runs/scale{scale}/{device}/{key}/check.log",
    threads: workflow.cores
    params:
        settings=run_settings,
    script:
        "../scripts/check_inference.py"


rule measure_hardware:
    output:
        "results/hardware/{device}/{hkey}.csv",
    log:
        "results/hardware/{device}/{hkey}.log",
    threads: workflow.cores
    params:
        settings=hardware_settings,
    script:
        "../scripts/measure_hardware.py"
