"""The toy example must reproduce the post's Part 1 exactly."""

import torch

from sweeplib.toy import X_TEST, Y_TEST, predict, train_toy

# Printed by the post's own Part 1 code under torch 2.13.0 (CPU), with the
# loss format changed from :.2f to full precision; the post itself prints
# 0.75 0.65 / 0.25 0.11 / 0.06 0.03 and an eval accuracy of 1.00.
POST_LOSSES = [0.7487356662750244, 0.6450306177139282, 0.253987193107605, 0.11282707750797272, 0.057810522615909576, 0.03357573226094246]


def test_losses_are_the_posts_exactly():
    _, batches, evals = train_toy()
    assert [b["loss"] for b in batches] == POST_LOSSES
    assert [f"{b['loss']:.2f}" for b in batches] == ["0.75", "0.65", "0.25", "0.11", "0.06", "0.03"]
    assert [e["accuracy"] for e in evals] == [1.0, 1.0, 1.0]


def test_predictions_are_the_labels():
    model, _, _ = train_toy()
    assert torch.equal(predict(model, X_TEST), Y_TEST)


def test_a_different_seed_gives_different_losses():
    _, batches, _ = train_toy(seed=124)
    assert [b["loss"] for b in batches] != POST_LOSSES
