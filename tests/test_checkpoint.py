import pickle

import pytest
import torch

from sweeplib.common.sizes import ModelSizes
from sweeplib.measure.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from sweeplib.measure.inference import InferenceMismatch, compare
from sweeplib.measure.model import NeuralNetwork


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = NeuralNetwork(ModelSizes(5, 7, 3))
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, model, {"scale": 0, "run_key": "abc"})
    return model, path


def test_round_trip_rebuilds_the_model_from_the_checkpoint_alone(saved):
    model, path = saved
    loaded, meta = load_checkpoint(path)
    assert loaded.sizes == model.sizes and meta == {"scale": 0, "run_key": "abc"}
    x = torch.randn(4, 5)
    torch.testing.assert_close(loaded.eval()(x), model.eval()(x), rtol=0, atol=0)
    assert not list(path.parent.glob("*.part"))  # the temporary file was renamed away


def test_truncated_checkpoint_is_refused(saved):
    _, path = saved
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_checkpoint(path)


class Payload:
    def __reduce__(self):
        return (print, ("executed",))


def test_pickled_object_is_refused_not_executed(saved, tmp_path, capsys):
    _, path = saved
    ckpt = torch.load(path, weights_only=True)
    ckpt["meta"]["evil"] = Payload()
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_checkpoint(path)
    assert "executed" not in capsys.readouterr().out


def test_other_files_are_refused(tmp_path):
    p = tmp_path / "state.pt"
    torch.save({"layers.0.weight": torch.zeros(1)}, p)  # a bare state_dict, as the post
    with pytest.raises(CheckpointError, match="not a mlp-checkpoint/1"):
        load_checkpoint(p)
    p.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(CheckpointError):
        load_checkpoint(p)


def test_weights_that_do_not_match_the_sizes_are_refused(saved):
    _, path = saved
    ckpt = torch.load(path, weights_only=True)
    ckpt["sizes"]["hidden1"] = 8
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(path)


def test_compare_accepts_equal_and_refuses_changed_logits():
    ref = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 1])
    assert compare(ref.clone(), ref, labels, "x")["accuracy"] == 1.0
    with pytest.raises(InferenceMismatch, match="differ"):
        compare(
            ref + torch.tensor([[0.0, 0.01], [0.0, 0.0]]), ref, labels, "scale 1 on cpu"
        )
    nan = torch.tensor([[float("nan"), 0.0], [0.0, 2.0]])
    # a diverged model, faithfully reloaded
    assert compare(nan.clone(), nan, labels, "x")["nonfinite_logits"] == 1
    with pytest.raises(InferenceMismatch, match="differ"):
        compare(ref, nan, labels, "x")
    with pytest.raises(InferenceMismatch, match="shape"):
        compare(ref[:1], ref, labels, "x")
