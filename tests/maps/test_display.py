"""Tests for core.maps.display: the screen-side views of photos and depth maps."""

from __future__ import annotations

import numpy as np
import pytest

from core.maps.colormaps import luminance_profile
from core.maps.normalize import normalize, to_uint8, to_uint16
from core.maps.stats import histogram, percentile_of
from core.maps.display import (
    banding_crops,
    blend,
    crop_box,
    display_window,
    downscale,
    fit_width,
    lightness_strip,
    palette_indices,
    percentile_from_histogram,
    pixel_probe,
    smoothest_crop,
)


@pytest.mark.parametrize(
    ("h", "w", "max_width", "expected"),
    [(3000, 4000, 1600, (1200, 1600)), (300, 400, 1600, (300, 400)), (10, 1601, 1600, (10, 1600)), (1, 5000, 100, (1, 100))],
)
def test_fit_width(h: int, w: int, max_width: int, expected: tuple[int, int]) -> None:
    assert fit_width(h, w, max_width) == expected


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_fit_width_rejects_bad_sizes(bad) -> None:
    with pytest.raises((TypeError, ValueError)):
        fit_width(10, 10, bad)


@pytest.mark.parametrize("shape", [(30, 40), (30, 40, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_downscale_shrinks_wide_images_and_keeps_narrow_ones(shape, dtype) -> None:
    image = np.ones(shape, dtype)
    assert downscale(image, 100) is image
    small = downscale(image, 20)
    assert small.shape[:2] == (15, 20) and small.dtype == dtype
    assert small.shape[2:] == shape[2:]


def test_downscale_averages_areas() -> None:
    image = np.zeros((2, 4), np.float32)
    image[:, 2:] = 1.0
    np.testing.assert_allclose(downscale(image, 2), [[0.0, 1.0]])


def test_blend_weights_and_validation() -> None:
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 200, np.uint8)
    assert blend(a, b, 0.0).max() == 0
    assert blend(a, b, 1.0).min() == 200
    assert blend(a, b, 0.25)[0, 0, 0] == 50
    with pytest.raises(ValueError):
        blend(a, b, 1.5)
    with pytest.raises(ValueError):
        blend(a, b[:1], 0.5)


def test_percentile_from_histogram_matches_exact_percentiles() -> None:
    rng = np.random.default_rng(0)
    depth = rng.gamma(2.0, 50.0, size=(120, 160)).astype(np.float32)
    hist = histogram(depth, bins=4096)
    values = np.quantile(depth, [0.01, 0.3, 0.5, 0.9, 0.999])
    approx = percentile_from_histogram(hist, values)
    exact = [percentile_of(depth, v) for v in values]
    np.testing.assert_allclose(approx, exact, atol=0.1)  # within 0.1 percentage point
    assert percentile_from_histogram(hist, np.array([depth.min() - 1])) == 0.0
    assert percentile_from_histogram(hist, np.array([depth.max() + 1])) == 100.0


def test_pixel_probe_samples_real_pixels() -> None:
    depth = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    hist = histogram(depth, bins=4096)
    probe = pixel_probe(depth, hist, lo=100.0, hi=500.0, invert=False, max_width=10)
    assert probe.raw.shape == (len(probe.y), len(probe.x)) == (7, 10)
    assert probe.x[0] == 0 and probe.x[-1] == 29 and probe.y[0] == 0 and probe.y[-1] == 19
    np.testing.assert_array_equal(probe.raw, depth[np.ix_(probe.y, probe.x)])  # exact pixels, not averages
    np.testing.assert_allclose(probe.normalized, normalize(probe.raw, 100.0, 500.0))
    assert probe.percentile[0, 0] < 1.0 and probe.percentile[-1, -1] == pytest.approx(100.0)
    inverted = pixel_probe(depth, hist, 100.0, 500.0, invert=True, max_width=10)
    np.testing.assert_allclose(inverted.normalized, 1.0 - probe.normalized)


@pytest.mark.parametrize(
    ("cx", "cy", "size", "expected"),
    [(0.5, 0.5, 20, (40, 60, 90, 110)), (0.0, 0.0, 20, (0, 20, 0, 20)), (1.0, 1.0, 20, (80, 100, 180, 200)),
     (0.5, 0.5, 500, (0, 100, 50, 150))],
)
def test_crop_box_stays_inside(cx: float, cy: float, size: int, expected) -> None:
    assert crop_box(100, 200, cx, cy, size) == expected


def test_banding_crops_count_levels() -> None:
    ramp = np.tile(np.linspace(0.0, 1.0, 1000, dtype=np.float32), (10, 1))  # 10 x 1000, smooth
    box = (0, 10, 0, 40)  # a 4% slice of the range
    crops = banding_crops(ramp, box, 0.0, 1.0)
    assert crops.levels8 == np.unique(to_uint8(ramp[:, :40], 0.0, 1.0)).size
    assert crops.levels16 == np.unique(to_uint16(ramp[:, :40], 0.0, 1.0)).size
    assert crops.levels8 <= 12 < 40 == crops.levels16  # 8-bit bands, 16-bit keeps every column
    assert crops.crop8.min() == 0.0 and crops.crop8.max() == 1.0
    with pytest.raises(ValueError):
        banding_crops(ramp, (0, 11, 0, 40))


def test_smoothest_crop_prefers_a_filled_slope_to_a_flat_patch_with_a_spike() -> None:
    step = 1.0 / 255  # one 8-bit step of the window [0, 1]
    depth = np.zeros((64, 128), np.float32)
    depth[::8, 4:64:8] = 4 * step  # left half: flat, one bright pixel per crop, a narrower range than the ramp
    depth[:, 64:] = np.linspace(0.0, 24 * step, 64, dtype=np.float32)  # right half: a gentle ramp
    y0, y1, x0, x1 = smoothest_crop(depth, 16, 0.0, 1.0)
    assert (y1 - y0, x1 - x0) == (16, 16)
    assert x0 >= 64, "the flat patch with a spike spans as many 8-bit steps but shows no banding"
    assert np.unique(to_uint8(depth[y0:y1, x0:x1], 0.0, 1.0)).size >= 3  # visible bands


def test_smoothest_crop_falls_back_without_a_qualifying_crop() -> None:
    flat = np.zeros((32, 32), np.float32)
    assert smoothest_crop(flat, 8, 0.0, 1.0) == (0, 8, 0, 8)  # the widest (all equal): the first
    assert smoothest_crop(np.zeros((1, 5), np.float32), 8, 0.0, 1.0) == (0, 1, 2, 3)  # one row: centred


def test_smoothest_crop_finds_the_gentle_gradient() -> None:
    # left: steep random texture; middle: flat (a clipped sky); right: a gentle ramp a few 8-bit levels deep
    rng = np.random.default_rng(1)
    depth = np.empty((64, 192), np.float32)
    depth[:, :64] = rng.uniform(0.0, 1000.0, (64, 64))
    depth[:, 64:128] = 0.0
    depth[:, 128:] = 500.0 + np.linspace(0.0, 48.0, 64)[None, :]
    depth[40:, 64:70] = 1.0  # a flat crop with a few stray pixels

    y0, y1, x0, x1 = smoothest_crop(depth, 32)  # window: the map's own range, as the exports quantise

    assert (y1 - y0, x1 - x0) == (32, 32)
    assert x0 >= 128, "in the ramp, not the texture or the flat part"
    crops = banding_crops(depth, (y0, y1, x0, x1), float(depth.min()), float(depth.max()))
    assert 3 <= crops.levels8 < crops.levels16


def test_smoothest_crop_defaults_to_the_map_range() -> None:
    depth = np.tile(np.linspace(2.0, 3.0, 96, dtype=np.float32) ** 3, (48, 1))
    assert smoothest_crop(depth, 16) == smoothest_crop(depth, 16, float(depth.min()), float(depth.max()))


def test_smoothest_crop_checks_its_inputs_and_fits_the_map() -> None:
    with pytest.raises(ValueError, match="size"):
        smoothest_crop(np.zeros((4, 4), np.float32), 0)
    with pytest.raises(ValueError, match="HxW"):
        smoothest_crop(np.zeros((4, 4, 3), np.float32), 4)
    y0, y1, x0, x1 = smoothest_crop(np.arange(12, dtype=np.float32).reshape(3, 4), 48)
    assert 0 <= y0 < y1 <= 3 and 0 <= x0 < x1 <= 4 and y1 - y0 == x1 - x0


def test_display_window_takes_percentiles_of_the_finite_values() -> None:
    values = np.array([np.nan, *range(101), np.inf])
    assert display_window(values, (1.0, 99.0)) == (1.0, 99.0)
    assert display_window(values, (0.0, 98.0), from_zero=True) == (0.0, 98.0)
    assert display_window(np.full(5, 7.0), (1.0, 99.0)) == (7.0, 7.0 + 1e-6)  # flat: still a window
    assert display_window(np.zeros(5), (0.0, 98.0), from_zero=True) == (0.0, 1e-6)
    with pytest.raises(ValueError, match="no finite value"):
        display_window(np.array([np.nan]))
    with pytest.raises(ValueError, match="percentiles"):
        display_window(np.arange(4.0), (99.0, 1.0))
    with pytest.raises(TypeError, match="real numeric"):
        display_window(np.array([True, False]))


def test_lightness_strip_follows_luminance() -> None:
    strip = lightness_strip("gray", width=256, height=3)
    assert strip.shape == (3, 256, 3) and strip.dtype == np.uint8
    expected = np.rint(luminance_profile("gray") * 2.55).astype(np.uint8)
    np.testing.assert_array_equal(strip[1, :, 0], expected)
    jet = lightness_strip("jet", width=256, height=1)[0, :, 0].astype(int)
    assert jet.argmax() not in (0, 255)  # jet's lightness peaks in the middle


def test_palette_indices_are_exact_for_few_colors_and_close_for_photos() -> None:
    from core.maps.colormaps import colormap_lut

    lut = np.asarray(colormap_lut("inferno"))
    few = lut[np.random.default_rng(0).integers(0, 256, 5000)]  # at most 256 distinct colours
    index, palette = palette_indices(few)
    np.testing.assert_array_equal(palette[index], few)

    photo = np.random.default_rng(1).integers(0, 256, (20000, 3), dtype=np.uint8)
    index, palette = palette_indices(photo)
    assert index.dtype == np.uint8 and len(palette) <= 256
    assert np.abs(palette[index].astype(int) - photo).mean() < 20  # random colours: the worst case
    assert palette_indices(np.zeros((0, 3), np.uint8))[0].size == 0
    with pytest.raises(ValueError):
        palette_indices(photo.astype(np.float32))
