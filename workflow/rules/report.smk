# Aggregation: the manifest (results/sweep.json) lists the runs of the current
# config; it is rewritten only when the plan changes, so its date tells these
# rules when to rerun even without Snakemake's metadata.


rule aggregate_timings:
    input:
        manifest="results/sweep.json",
        timings=run_files("timings.csv"),
        steps=run_files("steps.csv"),
        inference=run_files("inference.csv"),
        hardware=hardware_files(),
    output:
        timings="results/timings.csv",
        steps="results/steps.csv",
        inference="results/inference.csv",
        hardware="results/hardware.csv",
    log:
        "results/logs/aggregate_timings.log",
    script:
        "../scripts/aggregate_timings.py"


rule analyse_sweep:
    input:
        manifest="results/sweep.json",
        timings="results/timings.csv",
        steps="results/steps.csv",
        hardware="results/hardware.csv",
    output:
        cells="results/cells.csv",
        speedup="results/speedup.csv",
        speedup_md="results/speedup.md",
        analysis="results/analysis.json",
    log:
        "results/logs/analyse_sweep.log",
    script:
        "../scripts/analyse_sweep.py"


rule plot_sweep:
    input:
        cells="results/cells.csv",
        speedup="results/speedup.csv",
        analysis="results/analysis.json",
        seed="data/seed_table.csv",
    output:
        speedup="results/crossover.png",
        step_time="results/step_time.png",
    log:
        "results/logs/plot_sweep.log",
    script:
        "../scripts/plot_sweep.py"


rule write_report:
    input:
        manifest="results/sweep.json",
        cells="results/cells.csv",
        speedup="results/speedup.csv",
        analysis="results/analysis.json",
        inference="results/inference.csv",
        hardware="results/hardware.csv",
        timings="results/timings.csv",
        toy_losses=f"results/toy/{PLAN.toy_key}/losses.csv",
        toy_evals=f"results/toy/{PLAN.toy_key}/evals.csv",
        toy_predictions=f"results/toy/{PLAN.toy_key}/predictions.csv",
        seed="data/seed_table.csv",
        plots=["results/crossover.png", "results/step_time.png"],
    output:
        "results/report.md",
    log:
        "results/logs/write_report.log",
    script:
        "../scripts/write_report.py"
