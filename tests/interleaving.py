"""Small models trained through the workflow's own interleaving loop, for the tests of
that loop on the CPU's two devices and on an accelerator."""

import random

from sweeplib.common.sizes import ModelSizes
from sweeplib.measure.data import make_dataset
from sweeplib.measure.timing import run_rounds
from sweeplib.measure.training import build_trainer
from sweeplib.plan.runspec import Training

SIZES = ModelSizes(20, 30, 10)
TRAINING = Training(
    epochs=5, batch_size=10, lr=0.1, model_seed=7, loader="dataloader", num_workers=0
)


def trainer(device: dict, data: dict, post_prints: bool = False):
    """A device's trainer (``device``: its name and threads) of the small model."""
    return build_trainer(
        device["name"],
        device["threads"],
        SIZES,
        TRAINING,
        data,
        build_threads=2,
        post_prints=post_prints,
    )


def trained(devices: list[dict], schedule, seed: int = 0):
    """Each device's trainer after the warm-up and rounds of ``schedule``, and the step
    records. 60 samples in batches of 10: six steps an epoch, so rounds cross epochs."""
    data = make_dataset(20, 60, 10, seed=0)
    trainers = {d["name"]: trainer(d, data) for d in devices}
    return trainers, run_rounds(trainers, schedule, random.Random(seed))
