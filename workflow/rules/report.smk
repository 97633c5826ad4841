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
        keys.PLAN_CHANGE,
    log:
        log_of("note_plan_change-{stamp}"),
    shell:
        "touch {output} 2> {log}"


rule write_plan:
    input:
        plan_change,
        refinement_done,
    output:
        manifest=keys.PLAN,
        plan=machine_file(keys.MACHINE_PLAN),
        info=machine_file(keys.MACHINE_INFO),
    log:
        log_of("write_plan"),
    params:
        manifest=plan_text("manifest"),
        plan=plan_text("plan"),
        info=plan_text("info"),
    script:
        entry_script("write_plan")


rule aggregate_results:
    input:
        plan=keys.PLAN,
        timings=all_device_files("timings.csv"),
        steps=all_device_files("steps.csv"),
        inference=all_device_files("inference.csv"),
        hardware=hardware_files(),
    output:
        timings=report(
            keys.AGGREGATE["timings"],
            caption="../report/timings.rst",
            category="Measurements",
        ),
        steps=keys.AGGREGATE["steps"],
        inference=keys.AGGREGATE["inference"],
        hardware=keys.AGGREGATE["hardware"],
        left_out=keys.AGGREGATE["left_out"],
    log:
        log_of("aggregate_results"),
    script:
        entry_script("aggregate_results")


rule analyse_sweep:
    input:
        plan=keys.PLAN,
        timings=keys.AGGREGATE["timings"],
        inference=keys.AGGREGATE["inference"],
        hardware=keys.AGGREGATE["hardware"],
    output:
        cells=report(
            keys.ANALYSIS["cells"],
            caption="../report/cells.rst",
            category="Analysis",
        ),
        speedup=report(
            keys.ANALYSIS["speedup"],
            caption="../report/speedup.rst",
            category="Result",
        ),
        analysis=keys.ANALYSIS["analysis"],
    log:
        log_of("analyse_sweep"),
    script:
        entry_script("analyse_sweep")


rule plot_sweep:
    input:
        cells=keys.ANALYSIS["cells"],
        speedup=keys.ANALYSIS["speedup"],
        analysis=keys.ANALYSIS["analysis"],
        post="data/post_table.csv",
        plan=keys.PLAN,
    output:
        speedup=report(
            keys.FIGURES["speedup"],
            caption="../report/crossover.rst",
            category="Result",
        ),
        step_time=report(
            keys.FIGURES["step_time"],
            caption="../report/step_time.rst",
            category="Why",
        ),
        frontier=report(
            keys.FIGURES["frontier"],
            caption="../report/frontier.rst",
            category="Result",
        ),
        speedup_map=report(
            keys.FIGURES["speedup_map"],
            caption="../report/speedup_map.rst",
            category="Result",
        ),
    log:
        log_of("plot_sweep"),
    script:
        entry_script("plot_sweep")


rule write_report:
    input:
        plan=keys.PLAN,
        cells=keys.ANALYSIS["cells"],
        speedup=keys.ANALYSIS["speedup"],
        analysis=keys.ANALYSIS["analysis"],
        inference=keys.AGGREGATE["inference"],
        hardware=keys.AGGREGATE["hardware"],
        timings=keys.AGGREGATE["timings"],
        left_out=keys.AGGREGATE["left_out"],
        toy_losses=toy_file("losses.csv"),
        toy_evals=toy_file("evals.csv"),
        toy_predictions=toy_file("predictions.csv"),
        post="data/post_table.csv",
        plots=list(keys.FIGURES.values()),
    output:
        report=keys.REPORT,
        # What the run found, in a few lines: printed when the run ends.
        verdict=keys.VERDICT,
    log:
        log_of("write_report"),
    script:
        entry_script("write_report")
