"""Reload the toy checkpoint in a fresh process and predict the two test points."""

import pandas as pd

from sweeplib.common.atomic import write_csv
from sweeplib.common.devices import set_thread_variables
from sweeplib.common.logs import job
from sweeplib.measure.toy import predict, tensors


def main(snakemake) -> None:
    set_thread_variables(snakemake.threads)  # before torch loads
    from sweeplib.measure.checkpoint import load_checkpoint

    with job(snakemake.log[0], "predict_toy", snakemake.output) as log:
        model, _ = load_checkpoint(snakemake.input.checkpoint)
        data = tensors()
        predicted = predict(model, data["X_test"])
        rows = [
            {"x1": float(x[0]), "x2": float(x[1]), "label": int(y), "predicted": int(p)}
            for x, y, p in zip(data["X_test"], data["Y_test"], predicted)
        ]
        log.info(
            "predictions %s, labels %s", predicted.tolist(), data["Y_test"].tolist()
        )
        write_csv(snakemake.output[0], pd.DataFrame(rows))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
