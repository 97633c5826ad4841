"""The toy example must reproduce the post's Part 1: the same losses, to the last bit,
as the post's own code computes on this machine (float32 kernels round differently
on different CPUs, so the reference is computed here, never copied from elsewhere)."""

import contextlib
import io
import runpy

import pytest
import torch
import torch.nn.functional as F

from sweeplib.measure import toy
from sweeplib.measure.toy import predict, tensors, train_toy
from sweeplib.measure.training import post_line
from workflow_helpers import ROOT

# What the post printed (its losses to two decimals, and its eval accuracy).
POST_PRINTED = ["0.75", "0.65", "0.25", "0.11", "0.06", "0.03"]


@pytest.fixture(scope="module")
def post_losses(tmp_path_factory):
    """Run the post's Part 1 code (tests/post_part1.py) and record every training loss
    it computes."""
    losses = []
    original = F.cross_entropy

    def recording(*args, **kwargs):
        loss = original(*args, **kwargs)
        losses.append(loss.item())
        return loss

    mp = pytest.MonkeyPatch()
    mp.setattr(torch.nn.functional, "cross_entropy", recording)
    mp.chdir(tmp_path_factory.mktemp("post"))  # it saves model.pth where it runs
    try:
        with pytest.raises(
            NameError, match="mmodel"
        ):  # the post's typo, after training
            runpy.run_path(str(ROOT / "tests" / "post_part1.py"))
    finally:
        mp.undo()
    return losses


def test_the_posts_code_prints_what_the_post_printed(post_losses):
    assert [f"{v:.2f}" for v in post_losses] == POST_PRINTED


def test_losses_equal_the_posts_code_to_the_last_bit(post_losses):
    _, batches, evals = train_toy()
    assert [b["loss"] for b in batches] == post_losses
    assert [e["accuracy"] for e in evals] == [1.0, 1.0, 1.0]


def test_each_batch_is_logged_as_the_posts_code_prints_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(NameError, match="mmodel"):
        runpy.run_path(str(ROOT / "tests" / "post_part1.py"))
    printed = [line for line in out.getvalue().splitlines() if "Train Loss" in line]
    _, batches, _ = train_toy()
    logged = [
        post_line(b["epoch"], toy.EPOCHS, b["batch"], toy.BATCHES_PER_EPOCH, b["loss"])
        for b in batches
    ]
    assert len(printed) == 6 and logged == printed


def test_predictions_are_the_labels():
    model, _, _ = train_toy()
    data = tensors()
    assert torch.equal(predict(model, data["X_test"]), data["Y_test"])


def test_a_different_seed_gives_different_losses(post_losses):
    _, batches, _ = train_toy(seed=124)
    assert [b["loss"] for b in batches] != post_losses
