"""Per-cell statistics, paired speedups with intervals, crossovers and cost models."""

import json

import pandas as pd
from sweeplib.analysis import analyse, cell_table
from sweeplib.atomic import write_csv, write_text
from sweeplib.formatting import speedup_markdown
from sweeplib.logs import job


def timed_spans(
    timings: pd.DataFrame, inference: pd.DataFrame, hardware: pd.DataFrame
) -> pd.DataFrame:
    """Every timed region of the sweep: the timing processes, the checks, the probes."""
    procs = timings.drop_duplicates(["run_key", "process"])
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "job": [
                        f"scale {s}, timing process {p}"
                        for s, p in zip(procs["scale"], procs["process"])
                    ],
                    "start": procs["started_at"],
                    "end": procs["ended_at"],
                }
            ),
            pd.DataFrame(
                {
                    "job": [f"scale {s}, inference check" for s in inference["scale"]],
                    "start": inference["started_at"],
                    "end": inference["ended_at"],
                }
            ),
            pd.DataFrame(
                {
                    "job": [f"hardware probe of {d}" for d in hardware["device"]],
                    "start": hardware["started_at"],
                    "end": hardware["ended_at"],
                }
            ),
        ],
        ignore_index=True,
    )


def main(snakemake) -> None:
    with job(snakemake.log[0], "analyse_sweep") as log:
        plan = json.load(open(snakemake.input.plan))
        timings = pd.read_csv(snakemake.input.timings)
        hardware = pd.read_csv(snakemake.input.hardware)
        spans = timed_spans(timings, pd.read_csv(snakemake.input.inference), hardware)
        settings = plan["analysis"]
        cells = cell_table(timings, hardware, settings["spread_flag"])
        table, summary = analyse(
            cells, timings, plan["baseline"], settings, plan["scales"], spans
        )
        write_csv(snakemake.output.cells, cells)
        write_csv(snakemake.output.speedup, table)
        write_text(
            snakemake.output.speedup_md,
            speedup_markdown(cells, table, plan["baseline"]),
        )
        write_text(
            snakemake.output.analysis,
            json.dumps(summary, indent=2, sort_keys=True) + "\n",
        )
        log.info(
            "%d cells, %d speedups; %s", len(cells), len(table), summary["devices"]
        )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
