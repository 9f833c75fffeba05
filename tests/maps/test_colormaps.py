from __future__ import annotations

import cv2
import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core.maps.colormaps import (
    COLORMAPS,
    colorbar,
    colorize,
    colormap_lut,
    is_monotonic_luminance,
    luminance_profile,
)
from core.maps.normalize import to_uint8

NAMES = sorted(COLORMAPS)
UNIFORM = ["inferno", "magma", "plasma", "viridis", "cividis"]
SIZES = [(1, 1), (2, 3), (17, 5), (48, 64)]


def test_required_colormaps_are_offered_with_notes() -> None:
    required = {"inferno", "magma", "plasma", "viridis", "cividis", "turbo", "jet", "gray", "Spectral"}
    assert required <= set(COLORMAPS)
    for name in UNIFORM:
        assert COLORMAPS[name].startswith("Perceptually uniform")
    for name in ("jet", "Spectral", "turbo"):
        assert "NOT perceptually uniform" in COLORMAPS[name]


@pytest.mark.parametrize("name", NAMES)
def test_lut_matches_matplotlib(name: str) -> None:
    lut = colormap_lut(name)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    cmap = matplotlib.colormaps[name]
    for index, t in ((0, 0.0), (255, 1.0)):
        expected = np.asarray(cmap(t)[:3]) * 255
        np.testing.assert_allclose(lut[index], expected, atol=0.5)


def test_lut_is_cached_and_read_only() -> None:
    lut = colormap_lut("viridis")
    assert colormap_lut("viridis") is lut
    with pytest.raises(ValueError):
        lut[0, 0] = 1


@pytest.mark.parametrize("fn", [colormap_lut, luminance_profile, is_monotonic_luminance, colorbar])
def test_unknown_colormap_lists_valid_names(fn) -> None:
    with pytest.raises(ValueError, match="unknown colormap 'rainbow'.*inferno"):
        fn("rainbow")


def test_colorize_rejects_unknown_colormap_and_bad_maps() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        colorize(np.zeros((2, 2), np.float32), "Inferno")
    with pytest.raises(ValueError, match="HxW"):
        colorize(np.zeros((2, 2, 3), np.float32))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("invert", [False, True])
def test_colorize_is_lut_of_uint8_index(name: str, shape, invert: bool) -> None:
    x = np.random.default_rng(shape[0]).normal(size=shape).astype(np.float32)
    out = colorize(x, name, invert=invert)
    assert out.shape == (*shape, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, colormap_lut(name)[to_uint8(x, invert=invert)])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_colorize_gray_hand_computed(dtype) -> None:
    x = np.array([[0.0, 2.0], [4.0, 8.0]], dtype)
    out = colorize(x, "gray")
    np.testing.assert_array_equal(out[..., 0], [[0, 64], [128, 255]])
    assert np.all(out[..., 0] == out[..., 1]) and np.all(out[..., 1] == out[..., 2])
    np.testing.assert_array_equal(colorize(x, "gray", lo=2.0, hi=4.0)[..., 0], [[0, 0], [255, 255]])


@pytest.mark.parametrize("name", UNIFORM + ["gray"])
def test_near_is_the_bright_end(name: str) -> None:
    x = np.array([[0.1, 0.5], [3.0, 0.2]], np.float32)  # 3.0 is the nearest pixel
    lstar = cv2.cvtColor(colorize(x, name).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[..., 0]
    assert lstar[1, 0] == lstar.max() and lstar[0, 0] == lstar.min()
    inverted = cv2.cvtColor(colorize(x, name, invert=True).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[..., 0]
    assert inverted[1, 0] == inverted.min() and inverted[0, 0] == inverted.max()


@pytest.mark.parametrize("name", NAMES)
def test_colorize_constant_map_is_flat(name: str) -> None:
    out = colorize(np.full((4, 5), 2.5, np.float32), name)
    assert np.all(out == out[0, 0])


@settings(deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5),
        elements=st.floats(width=32, allow_nan=True, allow_infinity=True),
    ),
    st.sampled_from(NAMES),
)
def test_colorize_any_input_gives_lut_colors(x: np.ndarray, name: str) -> None:
    out = colorize(x, name)
    assert out.shape == (*x.shape, 3) and out.dtype == np.uint8
    lut = colormap_lut(name)
    # every pixel is an entry of the LUT, NaN included (it takes the far end)
    matches = (out.reshape(-1, 1, 3) == lut[None]).all(axis=2).any(axis=1)
    assert matches.all()
    nan = np.isnan(x)
    if nan.any() and np.isfinite(x).any():
        assert np.all(out[nan] == lut[0])


def test_luminance_profile_known_values() -> None:
    gray = luminance_profile("gray")
    assert gray.shape == (256,) and gray.dtype == np.float32
    assert gray[0] == pytest.approx(0.0, abs=1e-4) and gray[255] == pytest.approx(100.0, abs=1e-4)
    assert gray[119] == pytest.approx(50.03, abs=0.02)  # sRGB 119 is mid-lightness gray


@pytest.mark.parametrize("name", NAMES)
def test_luminance_profile_agrees_with_opencv_lab(name: str) -> None:
    lut = colormap_lut(name).reshape(1, 256, 3).astype(np.float32) / 255.0
    opencv_l = cv2.cvtColor(lut, cv2.COLOR_RGB2Lab)[0, :, 0]
    np.testing.assert_allclose(luminance_profile(name), opencv_l, atol=0.5)


@pytest.mark.parametrize("name", UNIFORM + ["gray"])
def test_uniform_maps_have_monotonic_luminance(name: str) -> None:
    assert is_monotonic_luminance(name)
    profile = luminance_profile(name)
    assert profile[-1] > profile[0] + 40  # and it rises: near is bright


@pytest.mark.parametrize("name", ["jet", "Spectral", "turbo"])
def test_rainbow_maps_are_not_monotonic(name: str) -> None:
    assert not is_monotonic_luminance(name)
    assert not is_monotonic_luminance(name, tol=0.5)


def test_viridis_needs_the_rounding_tolerance() -> None:
    # its 8-bit LUT has tiny L* dips: tolerance 0 must see them, the default must not
    assert not is_monotonic_luminance("viridis", tol=0.0)
    assert is_monotonic_luminance("viridis")
    with pytest.raises(ValueError, match="tol"):
        is_monotonic_luminance("viridis", tol=-1.0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("height,width", [(2, 1), (256, 24), (100, 3)])
def test_colorbar_has_near_on_top(name: str, height: int, width: int) -> None:
    bar = colorbar(name, height, width)
    lut = colormap_lut(name)
    assert bar.shape == (height, width, 3) and bar.dtype == np.uint8
    np.testing.assert_array_equal(bar[0, 0], lut[255])
    np.testing.assert_array_equal(bar[-1, -1], lut[0])
    assert np.all(bar == bar[:, :1])  # every column is the same
    inverted = colorbar(name, height, width, invert=True)
    np.testing.assert_array_equal(inverted[0, 0], lut[0])


def test_colorbar_gray_is_a_ramp() -> None:
    column = colorbar("gray", height=256, width=1)[:, 0, 0].astype(int)
    np.testing.assert_array_equal(column, np.arange(255, -1, -1))


@pytest.mark.parametrize("height,width", [(1, 5), (5, 0)])
def test_colorbar_size_validation(height: int, width: int) -> None:
    with pytest.raises(ValueError, match="height >= 2"):
        colorbar("gray", height, width)
