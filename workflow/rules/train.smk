# One job per scale times every device side by side (sweeplib/measure/processes.py);
# timed jobs claim every core (TIMED_THREADS: workflow.cores), so no other job
# runs beside one, whatever --cores is. Each process sets its own thread variables
# and torch threads per device (one for cpu1, cpu_threads for cpu). On a cluster
# (profiles/slurm), a timed job asks for what sweeplib/plan/cluster.py gives it: the
# cores its devices use, a GPU for CUDA, memory from the estimate, and the node to
# itself.


rule time_scale:
    input:
        dataset=run_dataset("timings.csv"),
    output:
        checkpoint=device_files("checkpoint.pt"),
        predictions=device_files("predictions.pt"),
        steps=device_files("steps.csv"),
        timings=device_files("timings.csv"),
        settings=device_files("settings.json"),
    log:
        keys.TIME_LOG,
    threads: TIMED_THREADS
    resources:
        mem_mb=time_resource("mem_mb"),
        runtime=time_resource("runtime"),
        cpus_per_task=time_resource("cpus_per_task"),
        gpu=time_resource("gpu"),
        slurm_extra=time_resource("slurm_extra"),
    params:
        run=run_spec,
    script:
        entry_script("time_scale")


rule check_inference:
    input:
        dataset=run_dataset("inference.csv"),
        checkpoints=device_files("checkpoint.pt"),
        predictions=device_files("predictions.pt"),
    output:
        device_files("inference.csv"),
    log:
        keys.CHECK_LOG,
    threads: TIMED_THREADS
    resources:
        mem_mb=check_resource("mem_mb"),
        runtime=check_resource("runtime"),
        cpus_per_task=check_resource("cpus_per_task"),
        gpu=check_resource("gpu"),
        slurm_extra=check_resource("slurm_extra"),
    params:
        run=run_spec,
    script:
        entry_script("check_inference")


rule measure_hardware:
    output:
        keys.HARDWARE,
    log:
        keys.HARDWARE_LOG,
    threads: TIMED_THREADS
    resources:
        mem_mb=probe_resource("mem_mb"),
        runtime=probe_resource("runtime"),
        cpus_per_task=probe_resource("cpus_per_task"),
        gpu=probe_resource("gpu"),
        slurm_extra=probe_resource("slurm_extra"),
    params:
        settings=hardware_settings,
    script:
        entry_script("measure_hardware")
