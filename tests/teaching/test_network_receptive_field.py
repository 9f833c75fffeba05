"""core.teaching.network_receptive_field: theoretical receptive fields, input gradients, the overlay."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from core.teaching.network_receptive_field import (
    ConvLayer,
    effective_radius,
    heat_overlay,
    influence_map,
    input_gradient,
    midas_deepest_path,
    photo_to_network,
    receptive_field_size,
)


class _Stack(nn.Module):
    """A tiny fully convolutional net, 3 channels in, one map out (1xhxw), weights all ones."""

    def __init__(self, spec: list) -> None:
        super().__init__()
        layers, cin = [], 3
        for item in spec:
            if item == "up":
                layers.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
                continue
            kernel, stride = item
            conv = nn.Conv2d(cin, 1, kernel, stride=stride, padding=kernel // 2)
            nn.init.constant_(conv.weight, 1.0)
            nn.init.zeros_(conv.bias)
            layers.append(conv)
            cin = 1
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)[:, 0]


def _layers(spec: list) -> list[ConvLayer]:
    return [ConvLayer(2, upsample=2) if item == "up" else ConvLayer(item[0], item[1]) for item in spec]


@pytest.mark.parametrize(
    ("spec", "by_hand"),
    [
        # r = 1 + 2 + 2 + 2
        ([(3, 1), (3, 1), (3, 1)], 7),
        # r = 1 + 2*1 + 2*2 + 2*4 (the step doubles after each stride-2 conv)
        ([(3, 2), (3, 2), (3, 1)], 15),
        # r = 1 + 2*1, step 2; the upsampling reads 2 samples: + 1*2, step 1; then + 2*1
        ([(3, 2), "up", (3, 1)], 7),
        # r = 1 + 4*1 + 2*2 (step 4) + 1*4 (step 2) + 2*2 + 1*2 (step 1) + 2*1
        ([(5, 2), (3, 2), "up", (3, 1), "up", (3, 1)], 21),
    ],
)
def test_theoretical_field_matches_the_hand_computation_and_the_gradient_support(spec, by_hand):
    assert receptive_field_size(_layers(spec)) == by_hand
    net = _Stack(spec).double().eval()
    x = torch.rand(1, 3, 96, 96, dtype=torch.float64)
    out_h, out_w = net(x).shape[1:]
    for y, xx in ((out_h // 2, out_w // 2), (out_h // 2 + 1, out_w // 2 + 1)):  # away from the borders
        support = influence_map(input_gradient(net, x, y, xx)) > 0  # positive weights: no cancellation
        rows, cols = np.nonzero(support.any(axis=1))[0], np.nonzero(support.any(axis=0))[0]
        assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (by_hand, by_hand)


def test_dilation_widens_the_field():
    assert receptive_field_size([ConvLayer(3, dilation=2)]) == 5
    assert receptive_field_size([]) == 1


@pytest.mark.parametrize("bad", [dict(kernel=0), dict(kernel=3, stride=0), dict(kernel=3, upsample=2)])
def test_conv_layer_rejects_impossible_layers(bad):
    with pytest.raises(ValueError):
        ConvLayer(**bad)


def test_receptive_field_size_rejects_other_items():
    with pytest.raises(TypeError, match="ConvLayer"):
        receptive_field_size([(3, 1)])


@pytest.fixture(scope="module")
def model(reference_weights):
    from core.midas.checkpoint import read_checkpoint
    from core.midas.model import create_midas_small

    return create_midas_small(read_checkpoint(reference_weights))


def test_midas_deepest_path_is_read_from_the_model(model):
    path = midas_deepest_path(model)
    convs = [layer for layer in path if layer.upsample == 1]
    assert sum(layer.stride == 2 for layer in convs) == 5  # the encoder's five halvings: stride 32
    assert sum(layer.upsample == 2 for layer in path) == 5  # four fusion blocks and the head: back to stride 1
    assert {layer.kernel for layer in convs} == {1, 3, 5}  # EfficientNet-Lite3 uses 5x5 depthwise convs too
    assert path[0].name == "pretrained.layer1.0" and path[-1].name == "scratch.output_conv.4"
    n_convs = sum(isinstance(m, nn.Conv2d) for m in model.pretrained.modules())
    assert sum(layer.name.startswith("pretrained.") for layer in convs) == n_convs  # every encoder conv
    field = receptive_field_size(path)
    assert field > 1024  # wider than any network input (N <= 1024): each output can see the whole input
    assert field == 1711  # the page's figure for these kernels and strides


def test_midas_deepest_path_refuses_another_model():
    with pytest.raises(TypeError, match="MidasSmall"):
        midas_deepest_path(nn.Conv2d(3, 1, 3))


def test_input_gradient_agrees_with_finite_differences(model):
    """The real network in float64; central differences at four input values.

    Every layer of MiDaS small is piecewise linear in its input in eval mode (convolutions, batch
    norm as an affine map, ReLU and ReLU6, bilinear upsampling, additions), so a central difference
    has no truncation error inside one linear piece. What remains is the rounding of the output
    (~|output| * 1e-16 / eps) and, with a larger step, crossing a ReLU kink (seen at eps = 1e-5:
    up to 3e-4 of max |gradient|). With eps = 1e-7 the differences measured at most 6e-8 of
    max |gradient| on this checkpoint; 1e-6 leaves a margin of 16.
    """
    net = copy.deepcopy(model).double()
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y0, x0 = 30, 50
    grad = input_gradient(net, x, y0, x0)
    assert grad.shape == (1, 3, 64, 96) and grad.dtype == np.float64
    scale = np.abs(grad).max()
    assert scale > 0
    eps = 1e-7
    with torch.inference_mode():
        for c, i, j in ((0, 30, 50), (1, 31, 49), (2, 5, 90), (0, 60, 3)):
            plus, minus = x.clone(), x.clone()
            plus[0, c, i, j] += eps
            minus[0, c, i, j] -= eps
            fd = (float(net(plus)[0, y0, x0]) - float(net(minus)[0, y0, x0])) / (2 * eps)
            assert abs(fd - grad[0, c, i, j]) <= 1e-6 * scale, (c, i, j, fd, grad[0, c, i, j])


def test_input_gradient_checks_its_arguments(model):
    x = np.zeros((1, 3, 32, 32), np.float32)
    with pytest.raises(ValueError, match="y must be in"):
        input_gradient(model, x, 32, 0)
    with pytest.raises(ValueError, match="1x3xhxw"):
        input_gradient(model, np.zeros((3, 32, 32), np.float32), 0, 0)


def test_input_gradient_leaves_the_model_without_gradients(model):
    input_gradient(model, np.zeros((1, 3, 32, 32), np.float32), 3, 4)
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())


def test_influence_map_and_effective_radius_by_hand():
    g = np.zeros((1, 3, 5, 5))
    g[0, 0, 2, 2], g[0, 1, 2, 2] = 3.0, -1.0  # 4 at the centre
    g[0, 2, 0, 0] = 4.0  # 4 in a corner, two rings out
    inf = influence_map(g)
    assert inf.dtype == np.float32 and inf[2, 2] == 4.0 and inf[0, 0] == 4.0 and inf.sum() == 8.0
    assert effective_radius(inf, 2, 2, mass=0.5) == 0
    assert effective_radius(inf, 2, 2, mass=0.9) == 2
    assert effective_radius(np.zeros((3, 3)), 1, 1) == 0
    with pytest.raises(ValueError, match="non-negative"):
        effective_radius(-inf, 2, 2)


@pytest.mark.parametrize(
    ("px", "py", "photo_hw", "net_hw", "expected"),
    [
        (0, 0, (3000, 4000), (192, 256), (0, 0)),
        (3999, 2999, (3000, 4000), (192, 256), (255, 191)),
        (7, 5, (96, 256), (96, 256), (7, 5)),  # same size: the same pixel
        (1, 3, (8, 8), (4, 4), (0, 1)),  # two photo pixels per output pixel
        (2, 4, (8, 8), (4, 4), (1, 2)),
    ],
)
def test_photo_to_network(px, py, photo_hw, net_hw, expected):
    assert photo_to_network(px, py, photo_hw, net_hw) == expected


def test_photo_to_network_rejects_a_pixel_outside():
    with pytest.raises(ValueError, match="px must be in"):
        photo_to_network(4000, 0, (3000, 4000), (192, 256))


def test_heat_overlay_covers_the_photo_only_where_there_is_influence():
    rgb = np.full((40, 60, 3), 100, np.uint8)
    none = heat_overlay(rgb, np.zeros((4, 6), np.float32))
    np.testing.assert_array_equal(none, rgb)
    inf = np.zeros((4, 6), np.float32)
    inf[1, 2] = 1.0
    out = heat_overlay(rgb, inf, strength=1.0)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert (out[15, 25] != 100).any()  # inside output pixel (2, 1) of the 6x4 map
    np.testing.assert_array_equal(out[35, 55], rgb[35, 55])  # far from it: the photo
    marked = heat_overlay(rgb, inf, mark=(50, 30))
    assert (marked[30, 50 - max(4, 60 // 80)] != none[30, 50 - 4]).any()  # the ring around the mark


def test_heat_overlay_rejects_negative_influence():
    with pytest.raises(ValueError, match="non-negative"):
        heat_overlay(np.zeros((4, 4, 3), np.uint8), -np.ones((2, 2), np.float32))
