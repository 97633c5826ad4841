# One job per scale times every device side by side (sweeplib/processes.py);
# timed jobs claim every core (threads: workflow.cores), so no other job runs
# beside one, whatever --cores is. Each process sets its own torch threads per
# device (one for cpu1, all usable cores for cpu).


rule time_scale:
    input:
        dataset=run_dataset,
    output:
        checkpoint=device_files("checkpoint.pt"),
        predictions=device_files("predictions.pt"),
        steps=device_files("steps.csv"),
        timings=device_files("timings.csv"),
        settings=device_files("settings.json"),
    log:
        "results/runs/scale{scale}/{key}/time.log",
    threads: workflow.cores
    params:
        settings=run_settings,
    script:
        "../scripts/time_scale.py"


rule check_inference:
    input:
        dataset=run_dataset,
        checkpoints=device_files("checkpoint.pt"),
        predictions=device_files("predictions.pt"),
    output:
        device_files("inference.csv"),
    log:
        "results/runs/scale{scale}/{key}/check.log",
    threads: workflow.cores
    params:
        settings=run_settings,
    script:
        "../scripts/check_inference.py"


rule measure_hardware:
    output:
        "results/hardware/{device}/{key}.csv",
    log:
        "results/hardware/{device}/{key}.log",
    threads: workflow.cores
    params:
        settings=hardware_settings,
    script:
        "../scripts/measure_hardware.py"
