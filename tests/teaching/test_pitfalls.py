from __future__ import annotations

import numpy as np
import pytest

from core.measure.alignment import AlignmentError
from core.maps.depth import normalize
from core.maps.display import banding_crops
from core.teaching.pitfalls import (
    aligned_difference,
    colour_ends,
    constant_image,
    grey_levels,
    naive_minmax,
    raw_as_image,
    saturated_fractions,
    smoothest_box,
    wrong_maximum,
)


def test_constant_image():
    img = constant_image(3, 5, 200)
    assert img.shape == (3, 5, 3) and img.dtype == np.uint8 and (img == 200).all()
    with pytest.raises(ValueError):
        constant_image(0, 5)
    with pytest.raises(ValueError):
        constant_image(2, 2, 300)


def test_the_naive_formula_gives_nan_on_a_constant_map_and_ours_does_not():
    flat = np.full((4, 6), 123.0, np.float32)
    assert np.isnan(naive_minmax(flat)).all()
    ours = normalize(flat)
    assert not np.isnan(ours).any() and (ours == 0).all()


def test_the_naive_formula_is_right_on_a_varied_map():
    d = np.array([[2.0, 4.0], [6.0, 10.0]])
    np.testing.assert_allclose(naive_minmax(d), [[0.0, 0.25], [0.5, 1.0]])


def test_raw_values_shown_as_an_image_are_white():
    depth = np.array([[0.5, 300.0], [1200.0, -3.0]], np.float32)
    shown = raw_as_image(depth)
    np.testing.assert_array_equal(shown, [[0.5, 1.0], [1.0, 0.0]])
    black, white, nan = saturated_fractions(shown)
    assert (black, white, nan) == (0.25, 0.5, 0.0)


def test_a_wrong_maximum_makes_the_picture_black():
    depth = np.linspace(0.0, 500.0, 100, dtype=np.float32).reshape(10, 10)
    shown = wrong_maximum(depth, 65535.0)
    darkest, brightest, levels = grey_levels(shown)
    assert (darkest, brightest) == (0, 2)  # 500 / 65535 * 255 = 1.95
    assert levels == 3
    assert grey_levels(normalize(depth))[2] == 100  # every value its own grey level
    with pytest.raises(ValueError, match="assumed_max"):
        wrong_maximum(depth, 0.0)


def test_saturated_fractions_counts_nan_separately():
    assert saturated_fractions(np.array([[np.nan, np.nan], [0.0, 1.0]])) == (0.25, 0.25, 0.5)


def test_grey_levels_of_an_all_nan_picture():
    assert grey_levels(np.full((2, 2), np.nan)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("cmap", "invert", "hue", "dark"),
    [("inferno", False, "warm", False), ("inferno", True, "neutral", True), ("jet", False, "warm", False),
     ("jet", True, "cold", True), ("gray", False, "neutral", False), ("plasma", True, "cold", True),
     ("Spectral", False, "cold", False)],
)
def test_colour_ends(cmap, invert, hue, dark):
    ends = colour_ends(cmap, invert)
    assert ends.near_hue == hue and ends.near_is_cold is (hue == "cold")
    assert ends.near_is_dark is dark
    assert 0.0 <= ends.near_lightness <= 100.0


def test_colour_ends_gray_is_white_for_near():
    ends = colour_ends("gray")
    assert ends.near_rgb == (255, 255, 255) and ends.far_rgb == (0, 0, 0)
    assert ends.near_lightness == pytest.approx(100.0) and ends.far_lightness == pytest.approx(0.0)


def test_smoothest_box_finds_the_gentle_gradient():
    # left: steep random texture; middle: flat (a clipped sky); right: a gentle ramp a few 8-bit levels deep
    rng = np.random.default_rng(1)
    depth = np.empty((64, 192), np.float32)
    depth[:, :64] = rng.uniform(0.0, 1000.0, (64, 64))
    depth[:, 64:128] = 0.0
    depth[:, 128:] = 500.0 + np.linspace(0.0, 12.0, 64)[None, :]
    depth[40:, 64:70] = 1.0  # a flat box with a few stray pixels spans a few codes too

    y0, y1, x0, x1 = smoothest_box(depth, sizes=(32,))

    assert (y1 - y0, x1 - x0) == (32, 32)
    assert x0 >= 128  # in the ramp, not the texture or the flat part
    crops = banding_crops(depth, (y0, y1, x0, x1), float(depth.min()), float(depth.max()))
    assert 3 <= crops.levels8 < crops.levels16


def test_smoothest_box_checks_the_level_range():
    with pytest.raises(ValueError, match="min_levels"):
        smoothest_box(np.zeros((4, 4)), min_levels=5, max_levels=3)
    with pytest.raises(ValueError, match="sizes"):
        smoothest_box(np.zeros((4, 4)), sizes=())


def test_smoothest_box_prefers_a_smaller_smooth_box_to_a_flat_big_one():
    yy, xx = np.mgrid[0:96, 0:96]
    depth = (np.sin(xx / 3.0) * 500.0).astype(np.float32)  # steep everywhere at 48 px...
    depth[:16, :16] = 100.0 + np.linspace(0.0, 10.0, 16)[None, :]  # ...but a gentle 16-px patch
    y0, y1, x0, x1 = smoothest_box(depth, sizes=(48, 16))
    assert (y0, y1, x0, x1) == (0, 16, 0, 16)


def test_smoothest_box_on_a_flat_map_falls_back_to_the_most_levels():
    box = smoothest_box(np.zeros((10, 10), np.float32), sizes=(4, 2))
    y0, y1, x0, x1 = box
    assert (y1 - y0, x1 - x0) == (4, 4)


def test_smoothest_box_shrinks_to_the_map():
    assert smoothest_box(np.arange(12, dtype=np.float32).reshape(3, 4), sizes=(48,)) == (0, 3, 0, 3)


def test_aligned_difference_ignores_scale_and_shift():
    ref = np.random.default_rng(2).uniform(0.0, 10.0, (8, 8))
    diff, mean = aligned_difference(ref, 3.0 * ref - 7.0)
    assert mean == pytest.approx(0.0, abs=1e-6) and diff.max() < 1e-5


def test_aligned_difference_shows_where_maps_disagree():
    ref = np.tile(np.arange(8, dtype=np.float64), (8, 1))
    other = ref.copy()
    other[0, 0] += 4.0  # one pixel disagrees
    diff, mean = aligned_difference(ref, other)
    assert diff.dtype == np.float32 and diff.shape == (8, 8)
    assert int(np.argmax(diff)) == 0 and mean > 0


def test_aligned_difference_needs_matching_varied_maps():
    with pytest.raises(ValueError, match="shape"):
        aligned_difference(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(AlignmentError):
        aligned_difference(np.arange(4.0).reshape(2, 2), np.ones((2, 2)))
