from __future__ import annotations

import numpy as np
import pytest
import torch

from core.transforms import check_net_size, network_input_size, preprocess, upsample
from tests.conftest import assert_close_to_max, golden_case_names


def test_network_sizes_match_official_cases(manifest):
    for case in manifest["cases"]:
        assert network_input_size(case["height"], case["width"]) == (case["net_height"], case["net_width"])


@pytest.mark.parametrize(
    ("hw", "size", "expected"),
    [
        ((480, 640), 256, (192, 256)),
        ((480, 640), 384, (288, 384)),
        ((480, 640), 512, (384, 512)),
        ((3000, 4000), 1024, (768, 1024)),
        ((1, 1), 256, (256, 256)),
        ((1, 5000), 256, (32, 256)),  # official rounding gives 0 rows: clamped to 32
        ((5000, 1), 256, (256, 32)),
        ((100, 10_000), 512, (32, 512)),
    ],
)
def test_network_input_size(hw, size, expected):
    h, w = network_input_size(*hw, size)
    assert (h, w) == expected
    assert h % 32 == 0 and w % 32 == 0 and h <= size and w <= size


@pytest.mark.parametrize("size", [255, 128, 1056, 300])
def test_bad_network_size_is_refused(size):
    with pytest.raises(ValueError, match="256-1024 in steps of 32"):
        check_net_size(size)


@pytest.mark.parametrize("size", [256, 288, 1024])
def test_good_network_sizes(size):
    assert check_net_size(size) == size


@pytest.mark.parametrize("case", golden_case_names())
def test_preprocess_matches_official_small_transform(golden, case):
    x = preprocess(golden[f"{case}_image"])
    expected = golden[f"{case}_input"]
    assert x.dtype == torch.float32 and tuple(x.shape) == (1, *expected.shape)
    assert np.abs(x[0].numpy() - expected).max() <= 1e-4


@pytest.mark.parametrize("case", golden_case_names())
def test_upsample_matches_official_bicubic(golden, case):
    full = golden[f"{case}_full"]
    out = upsample(torch.from_numpy(golden[f"{case}_net"]), *full.shape)
    assert out.dtype == np.float32
    assert_close_to_max(out, full)


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), [1, 2, 3]]
)
def test_preprocess_refuses_non_rgb_uint8(bad):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        preprocess(bad)


def test_extreme_panorama_gives_a_valid_input():
    x = preprocess(np.full((2, 3000, 3), 128, np.uint8))
    assert tuple(x.shape) == (1, 3, 32, 256)
    assert torch.isfinite(x).all()
