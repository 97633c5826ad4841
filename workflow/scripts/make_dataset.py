"""Make the synthetic data set of one scale."""

import json

from sweeplib.common.devices import set_thread_variables
from sweeplib.common.logs import job


def main(snakemake) -> None:
    set_thread_variables(snakemake.threads)  # before torch loads
    from sweeplib.common.atomic import torch_save
    from sweeplib.measure.data import dataset_sha256, make_dataset

    with job(snakemake.log[0], "make_dataset", snakemake.output) as log:
        p = json.loads(snakemake.params.data)
        data = make_dataset(p["num_inputs"], p["n_train"], p["n_test"], p["seed"])
        torch_save(snakemake.output[0], data)
        shapes = {k: tuple(v.shape) for k, v in data.items()}
        log.info(
            "scale %s: %s, sha256 %s",
            snakemake.wildcards.scale,
            shapes,
            dataset_sha256(data),
        )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)
