"""Reload the toy checkpoint in a fresh process and predict the two test points."""

import pandas as pd

from sweeplib.atomic import write_csv
from sweeplib.checkpoint import load_checkpoint
from sweeplib.logs import job
from sweeplib.toy import X_TEST, Y_TEST, predict


def main(snakemake) -> None:
    with job(snakemake.log[0], "predict_toy") as log:
        model, _ = load_checkpoint(snakemake.input.checkpoint)
        predicted = predict(model, X_TEST)
        rows = [
            {"x1": float(x[0]), "x2": float(x[1]), "label": int(y), "predicted": int(p)}
            for x, y, p in zip(X_TEST, Y_TEST, predicted)
        ]
        log.info("predictions %s, labels %s", predicted.tolist(), Y_TEST.tolist())
        write_csv(snakemake.output[0], pd.DataFrame(rows))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
