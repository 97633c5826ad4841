import pytest

from sweeplib.common.sizes import (
    ModelSizes,
    params_of_scale,
    scale_for_params,
    widths_of,
)
from sweeplib.common.tables import read_csv
from sweeplib.measure.model import NeuralNetwork, count_params
from workflow_helpers import ROOT

POST_TABLE = read_csv(ROOT / "data" / "post_table.csv").drop_duplicates("scale")


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


def test_fractional_widths_round_half_up_and_none_rounds_to_zero():
    # By hand: 0.015 x (100, 300, 200) = 1.5, 4.5, 3 rounded half up; the smallest
    # scale the config allows, 0.01, still has one unit in its narrowest layer.
    assert widths_of(0.015) == (2, 5, 3)
    assert widths_of(0.01) == (1, 3, 2)
    with pytest.raises(
        ValueError, match=r"scale 0.004 gives the layer widths \(0, 1, 1\)"
    ):
        widths_of(0.004)


def test_bytes_per_step_by_hand():
    # Scale 1: 30,300 first-layer parameters (20 bytes each), 60,602 others (24 bytes
    # each).
    assert ModelSizes.for_scale(1).bytes_per_step() == 20 * 30300 + 24 * 60602


def test_the_report_writes_the_architecture_from_the_widths():
    assert (
        ModelSizes.architecture()
        == "Linear(100s, 300s) → ReLU → Linear(300s, 200s) → ReLU → Linear(200s, 2)"
    )
