# Aggregation, by stage: results/plan/ (the plan), results/aggregate/ (every run's
# rows), results/analysis/ (statistics), then the report and its plots at the top
# of results/. The plan is rewritten whenever it changes (a run, a setting of the
# analysis, the aggregation's code), and all that reads it reruns. A run in which a
# job failed ends by writing the report from what was measured, each failed run
# marked in it (sweeplib/report/failed_run_report.py); its exit status still says a job
# failed.


onsuccess:
    verdict.print_verdict()


onerror:
    failed_run_report.report_after_failure(workflow, PLAN)


rule note_plan_change:
    output:
        "results/plan/change-{stamp}.stamp",
    log:
        "results/logs/note_plan_change-{stamp}.log",
    shell:
        "touch {output} 2> {log}"


rule write_plan:
    input:
        plan_change,
        refinement_done,
    output:
        manifest="results/plan/sweep.json",
        plan=machine_file(keys.MACHINE_PLAN),
        info=machine_file(keys.MACHINE_INFO),
    log:
        "results/logs/write_plan.log",
    params:
        manifest=plan_text("manifest"),
        plan=plan_text("plan"),
        info=plan_text("info"),
    script:
        "../scripts/write_plan.py"


rule aggregate_results:
    input:
        plan="results/plan/sweep.json",
        timings=all_device_files("timings.csv"),
        steps=all_device_files("steps.csv"),
        inference=all_device_files("inference.csv"),
        hardware=hardware_files(),
    output:
        timings=report(
            "results/aggregate/timings.csv",
            caption="../report/timings.rst",
            category="Measurements",
        ),
        steps="results/aggregate/steps.csv",
        inference="results/aggregate/inference.csv",
        hardware="results/aggregate/hardware.csv",
        left_out="results/aggregate/left_out.csv",
    log:
        "results/logs/aggregate_results.log",
    script:
        "../scripts/aggregate_results.py"


rule analyse_sweep:
    input:
        plan="results/plan/sweep.json",
        timings="results/aggregate/timings.csv",
        inference="results/aggregate/inference.csv",
        hardware="results/aggregate/hardware.csv",
    output:
        cells=report(
            "results/analysis/cells.csv",
            caption="../report/cells.rst",
            category="Analysis",
        ),
        speedup=report(
            "results/analysis/speedup.csv",
            caption="../report/speedup.rst",
            category="Result",
        ),
        analysis="results/analysis/analysis.json",
    log:
        "results/logs/analyse_sweep.log",
    script:
        "../scripts/analyse_sweep.py"


rule plot_sweep:
    input:
        cells="results/analysis/cells.csv",
        speedup="results/analysis/speedup.csv",
        analysis="results/analysis/analysis.json",
        post="data/post_table.csv",
        plan="results/plan/sweep.json",
    output:
        speedup=report(
            "results/crossover.png",
            caption="../report/crossover.rst",
            category="Result",
        ),
        step_time=report(
            "results/step_time.png",
            caption="../report/step_time.rst",
            category="Why",
        ),
        frontier=report(
            "results/frontier.png",
            caption="../report/frontier.rst",
            category="Result",
        ),
        speedup_map=report(
            "results/speedup_map.png",
            caption="../report/speedup_map.rst",
            category="Result",
        ),
    log:
        "results/logs/plot_sweep.log",
    script:
        "../scripts/plot_sweep.py"


rule write_report:
    input:
        plan="results/plan/sweep.json",
        cells="results/analysis/cells.csv",
        speedup="results/analysis/speedup.csv",
        analysis="results/analysis/analysis.json",
        inference="results/aggregate/inference.csv",
        hardware="results/aggregate/hardware.csv",
        timings="results/aggregate/timings.csv",
        left_out="results/aggregate/left_out.csv",
        toy_losses=toy_file("losses.csv"),
        toy_evals=toy_file("evals.csv"),
        toy_predictions=toy_file("predictions.csv"),
        post="data/post_table.csv",
        plots=[
            "results/crossover.png",
            "results/step_time.png",
            "results/frontier.png",
            "results/speedup_map.png",
        ],
    output:
        report="results/report.md",
        # What the run found, in a few lines: printed when the run ends.
        verdict="results/verdict.txt",
    log:
        "results/logs/write_report.log",
    script:
        "../scripts/write_report.py"
