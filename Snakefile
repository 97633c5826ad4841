# A sweep of model sizes that finds where an accelerator starts to beat the CPU
# when training the post's MLP. Settings: config/config.yaml (see config/README.md).
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/preflight.smk"


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/refine.smk"
include: "workflow/rules/toy.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        keys.REPORT,
        plan_change(),
        failed_run_report.missing_results(PLAN),
