import pandas as pd
import pytest

from sweeplib.model import NeuralNetwork, count_params
from sweeplib.sizes import ModelSizes, params_of_scale, scale_for_params
from workflow_helpers import ROOT

POST_TABLE = pd.read_csv(ROOT / "data" / "post_table.csv").drop_duplicates("scale")


@pytest.mark.parametrize(
    "scale,params", list(POST_TABLE[["scale", "params"]].itertuples(index=False))
)
def test_param_count_matches_the_posts_table(scale, params):
    # The post printed these counts with `sum(p.numel() for p in model.parameters())`.
    assert ModelSizes.for_scale(scale).num_params == params == params_of_scale(scale)
    assert scale_for_params(params) == pytest.approx(scale)


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_built_model_has_the_counted_parameters(scale):
    sizes = ModelSizes.for_scale(scale)
    assert (
        count_params(NeuralNetwork(sizes))
        == sizes.num_params
        == 90000 * scale**2 + 900 * scale + 2
    )


def test_layer_widths_follow_the_scale():
    sizes = ModelSizes.for_scale(4)
    assert sizes.layer_shapes == [(400, 1200), (1200, 800), (800, 2)]
    assert sizes.first_layer_params == 400 * 1200 + 1200


def test_bytes_per_step_by_hand():
    # Scale 1: 30,300 first-layer parameters (20 bytes each), 60,602 others (24 bytes
    # each).
    assert ModelSizes.for_scale(1).bytes_per_step() == 20 * 30300 + 24 * 60602


def test_the_report_writes_the_architecture_from_the_widths():
    assert (
        ModelSizes.architecture()
        == "Linear(100s, 300s) → ReLU → Linear(300s, 200s) → ReLU → Linear(200s, 2)"
    )
