from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from core.midas.transforms import check_net_size, network_input_size, preprocess, upsample
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


# --- the fast paths: resize_cubic (preprocess) and upsample_to (post-process) ---------------

from core.midas.transforms import resize_cubic, upsample_to  # noqa: E402  (appended section)


@pytest.mark.parametrize(
    ("hw", "out_hw"),
    [
        ((3001, 4003), (192, 256)),  # a 12 MP photo with odd sides
        ((1081, 1921), (128, 256)),  # 1080p-like, odd
        ((2001, 3003), (160, 256)),
        ((4003, 1001), (256, 64)),  # tall
        ((1999, 1501), (384, 288)),  # portrait, N = 384
        ((4003, 3001), (512, 384)),  # N = 512
        ((512, 512), (256, 256)),  # exactly 2x down
        ((1024, 768), (256, 192)),  # exactly 4x down
        ((333, 777), (96, 256)),  # odd, both axes down by non-integers
        ((64, 64), (256, 256)),  # 4x up, as the 64x64 golden case
        ((7, 5), (32, 32)),  # tiny, all taps clamped at the borders
        ((2, 3000), (32, 256)),  # extreme panorama: rows clamp, columns shrink
        ((1, 1), (32, 32)),
        ((257, 193), (256, 192)),  # almost identity
        ((192, 256), (192, 256)),  # identity: OpenCV copies
    ],
)
def test_resize_cubic_equals_opencv_float64(hw, out_hw):
    rgb = np.random.default_rng(hw[0] * 7 + hw[1]).integers(0, 256, (*hw, 3), dtype=np.uint8)
    expected = cv2.resize(rgb / 255.0, out_hw[::-1], interpolation=cv2.INTER_CUBIC)
    actual = resize_cubic(rgb, *out_hw)
    assert actual.dtype == np.float64 and actual.shape == expected.shape
    # same coefficients, taps and summation order as OpenCV: equal to float64 rounding (bitwise here)
    assert np.abs(actual - expected).max() <= 1e-12


def test_resize_cubic_gathers_without_opencv_on_large_images(monkeypatch):
    rgb = np.random.default_rng(2).integers(0, 256, (2999, 4001, 3), dtype=np.uint8)
    expected = cv2.resize(rgb / 255.0, (256, 192), interpolation=cv2.INTER_CUBIC)

    def refuse(*args, **kwargs):
        raise AssertionError("the 12 MP case must take the gather path")

    monkeypatch.setattr(cv2, "resize", refuse)
    assert np.abs(resize_cubic(rgb, 192, 256) - expected).max() <= 1e-12


def test_resize_cubic_reads_views_and_rejects_bad_sizes():
    rgb = np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    view = rgb[::-1, 50:351]  # negative strides, non-contiguous
    expected = cv2.resize(np.ascontiguousarray(view) / 255.0, (128, 96), interpolation=cv2.INTER_CUBIC)
    assert np.abs(resize_cubic(view, 96, 128) - expected).max() <= 1e-12
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="positive int"):
            resize_cubic(rgb, bad, 32)
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        resize_cubic(rgb.astype(np.float32), 32, 32)


@pytest.mark.parametrize("case", golden_case_names())
def test_preprocess_is_bitwise_official_on_golden(golden, case):
    x = preprocess(golden[f"{case}_image"])[0].numpy()
    # measured: 0 on all seven cases, also with torch's, OpenCV's and NumPy's SIMD off. 1e-6 is
    # 4 float32 ulps at the input's largest magnitude (about 2.6): room for another machine's float64
    # resize to round a value's last bit the other way before the float32 cast (a compiler may fuse
    # its multiply-adds)
    assert np.abs(x - golden[f"{case}_input"]).max() <= 1e-6


@pytest.mark.parametrize("case", golden_case_names())
def test_upsample_to_matches_torch_bicubic_on_golden(golden, case):
    net, full = golden[f"{case}_net"], golden[f"{case}_full"]
    fast = upsample_to(net, *full.shape)
    assert fast.dtype == np.float32 and fast.shape == full.shape
    assert_close_to_max(fast, full)  # the reference tolerance, 1e-3 of the maximum
    # measured at most 3.4e-6: OpenCV and torch share the kernel and the border clamping; torch's
    # own bicubic moves by up to 1e-6 of the maximum between its SIMD levels (ATEN_CPU_CAPABILITY)
    assert_close_to_max(fast, upsample(torch.from_numpy(net), *full.shape), rel=1e-5)


@pytest.mark.parametrize(
    ("net_hw", "out_hw"),
    [((192, 256), (3000, 4000)), ((256, 192), (4003, 3001)), ((128, 256), (1080, 1920)),
     ((256, 256), (64, 64)), ((256, 256), (100, 37)), ((32, 256), (2, 3000)), ((96, 256), (333, 777))],
)
def test_upsample_to_matches_torch_on_pixel_noise(net_hw, out_hw):
    # the worst case for coordinate rounding: independent values in every pixel
    net = np.random.default_rng(net_hw[0] + out_hw[1]).random(net_hw, dtype=np.float32) * 10
    reference = upsample(torch.from_numpy(net), *out_hw)
    assert_close_to_max(upsample_to(net, *out_hw), reference, rel=1e-4)
    assert_close_to_max(upsample_to(torch.from_numpy(net)[None], *out_hw), reference, rel=1e-4)


def test_upsample_to_checks_its_inputs():
    with pytest.raises(ValueError, match="hxw"):
        upsample_to(np.zeros((2, 3, 4), np.float32), 8, 8)
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        upsample_to([[1.0]], 8, 8)
    with pytest.raises(ValueError, match="positive int"):
        upsample_to(np.zeros((4, 4), np.float32), 0, 8)
    same = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = upsample_to(same, 3, 4)
    np.testing.assert_array_equal(out, same)
    assert not np.shares_memory(out, same)
