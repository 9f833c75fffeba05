from __future__ import annotations

import numpy as np
import pytest

from core.measure.alignment import AlignmentError
from core.maps.normalize import normalize
from core.teaching.pitfalls import (
    aligned_difference,
    color_ends,
    constant_image,
    grey_levels,
    naive_minmax,
    raw_as_image,
    saturated_fractions,
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
def test_color_ends(cmap, invert, hue, dark):
    ends = color_ends(cmap, invert)
    assert ends.near_hue == hue and ends.near_is_cold is (hue == "cold")
    assert ends.near_is_dark is dark
    assert 0.0 <= ends.near_lightness <= 100.0


def test_color_ends_gray_is_white_for_near():
    ends = color_ends("gray")
    assert ends.near_rgb == (255, 255, 255) and ends.far_rgb == (0, 0, 0)
    assert ends.near_lightness == pytest.approx(100.0) and ends.far_lightness == pytest.approx(0.0)


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
