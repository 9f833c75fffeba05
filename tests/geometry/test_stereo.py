"""Tests of core/geometry/stereo.py: DIBR stereo views, their layouts, the Dubois anaglyph and the baseline.

The synthetic scene is a textured plane (relative inverse depth 1) with a red box in front of
it (inverse depth 3): its disparity relative to the plane is the strength setting by
construction, and the hole the box leaves behind it has a known width. Calibrated with the
plane at 4 m and the box at 1 m, the strength is a camera baseline.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry.camera import focal_px_from_fov
from core.geometry.stereo import (
    FILLS,
    LAYOUTS,
    MAX_STRENGTH_PCT,
    anaglyph,
    baseline_m,
    compose,
    depth_range,
    disparity_map,
    render_view,
    stereo_pair,
    strength_for_baseline,
)
from core.measure.calibration import CalibrationPoint, calibrate

RED = np.array([255, 0, 0], np.uint8)
SENTINEL = np.array([1, 2, 3], np.uint8)  # nowhere else in the scene: a hole that kept pixel 0 shows it


def scene(height: int = 120, width: int = 240, box: tuple[int, int, int, int] = (40, 80, 90, 150)):
    """(rgb, depth, box mask): a plane of vertical grey-blue stripes and a red box (rows r0:r1, cols c0:c1)."""
    r0, r1, c0, c1 = box
    cols = np.arange(width)
    plane = np.stack([40 + (cols * 7) % 150, 60 + (cols * 3) % 120, 200 - (cols * 5) % 100], axis=-1)
    rgb = np.broadcast_to(plane, (height, width, 3)).astype(np.uint8).copy()
    rgb[0, 0] = SENTINEL
    depth = np.ones((height, width), np.float32)
    mask = np.zeros((height, width), bool)
    mask[r0:r1, c0:c1] = True
    rgb[mask] = RED
    depth[mask] = 3.0
    return rgb, depth, mask


def red(image: np.ndarray) -> np.ndarray:
    return np.all(image == RED, axis=-1)


def columns(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask.any(axis=0))


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("strength_pct", [2.5, 5.0, 8.3])
def test_the_box_disparity_equals_the_strength_and_the_far_plane_sits_at_the_screen(strength_pct, fill):
    rgb, depth, mask = scene()
    pair = stereo_pair(rgb, depth, strength_pct, convergence=0.0, fill=fill)
    strength_px = strength_pct / 100 * rgb.shape[1]
    assert pair.disparity.strength_px == pytest.approx(strength_px)
    # the box where pixels landed (Telea inpainting may blend its red into the holes beside it):
    # whole, drawn over the plane it lands on, and moved by +-half the strength in each view
    left, right = (red(v.image) & ~v.holes for v in (pair.left, pair.right))
    assert left.sum() == mask.sum() == right.sum()
    shift = columns(left)[0] - columns(right)[0]
    assert abs(shift - strength_px) <= 1.0
    assert abs((columns(left)[0] - columns(mask)[0]) - strength_px / 2) <= 0.5 + 1e-9
    # the far plane is the convergence plane: zero disparity, its pixels where they were
    assert np.all(pair.disparity.pixels[~mask] == 0.0)
    for view in (pair.left, pair.right):
        unmoved = ~mask & ~view.holes & ~red(view.image)
        assert np.array_equal(view.image[unmoved], rgb[unmoved])


@pytest.mark.parametrize("convergence", [0.5, 1.0])
def test_the_convergence_plane_has_zero_disparity(convergence):
    rgb, depth, mask = scene()
    depth[:, 200:220] = 1.0 + 2.0 * convergence  # a strip at the convergence depth
    pair = stereo_pair(rgb, depth, 6.0, convergence)
    strip = np.zeros_like(mask)
    strip[:, 200:220] = True
    assert np.all(pair.disparity.pixels[strip] == 0.0)
    for view in (pair.left.image, pair.right.image):
        assert np.array_equal(view[1:, 200:220], rgb[1:, 200:220])  # row 0 holds the sentinel
    strength_px = 0.06 * rgb.shape[1]
    # the box (nearness 1) and the plane (0) sit at (1 - c) and -c times the strength
    assert pair.disparity.pixels[mask].max() == pytest.approx((1.0 - convergence) * strength_px)
    assert pair.disparity.pixels[~mask & ~strip].min() == pytest.approx(-convergence * strength_px)
    measured = columns(red(pair.left.image))[0] - columns(red(pair.right.image))[0]
    assert abs(measured - (1.0 - convergence) * strength_px) <= 1.0


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("shape", [(120, 240), (61, 97)])
def test_no_hole_is_left_unfilled_and_background_fill_never_smears_the_box(fill, shape):
    height, width = shape
    rgb, depth, mask = scene(height, width, (height // 3, 2 * height // 3, width // 3, width // 2))
    pair = stereo_pair(rgb, depth, 7.0, convergence=1.0, fill=fill)  # the plane moves: pixel 0 leaves the picture
    half = 0.07 * width / 2  # each view moves the plane by half the disparity
    assert not np.all(pair.left.image == SENTINEL, axis=-1).any()  # pixel 0 left the left view
    for view in (pair.left, pair.right):
        assert view.holes.any()  # there were disocclusions to fill (the box's shadow, the border strip)
        expected = round(half) * height + round(half) * (mask.any(axis=1).sum())  # border strip + box shadow
        assert abs(int(view.holes.sum()) - expected) <= 2 * height
        # an unfilled hole would still show pixel 0 (the sentinel); it may only spread along row 0 of
        # the right view, where the plane carries it to column 8 and the border hole is filled from it
        assert not np.all(view.image[1:] == SENTINEL, axis=-1).any()
        assert view.image.dtype == np.uint8 and view.image.shape == rgb.shape
        assert (red(view.image) & ~view.holes).sum() == mask.sum()  # the box is whole
        if fill == "background":
            assert not red(view.image)[view.holes].any()  # holes show the plane, never the box


def test_background_fill_takes_the_far_side_of_a_hole():
    rgb, depth, mask = scene()
    pair = stereo_pair(rgb, depth, 10.0, convergence=0.0)
    left = pair.left
    # the box moved right: the hole is on its left, bounded by the plane on its left and the box on its right
    row = 60
    hole_cols = np.flatnonzero(left.holes[row])
    assert hole_cols.size and np.all(np.diff(hole_cols) == 1)
    before = hole_cols[0] - 1
    assert np.all(left.image[row, hole_cols] == left.image[row, before])


def test_a_diagonal_camera_move_moves_the_box_both_ways():
    rgb, depth, mask = scene()
    disparity = disparity_map(depth, 10.0, 0.0)  # 24 px
    view = render_view(rgb, disparity, (0.25, 0.5))
    rows, cols = np.nonzero(red(view.image))
    r0, c0 = np.nonzero(mask)
    assert abs((cols.min() - c0.min()) - 6) <= 1 and abs((rows.min() - r0.min()) - 12) <= 1
    assert red(view.image).sum() == mask.sum()


def test_nearer_pixels_are_drawn_over_farther_ones():
    # two boxes whose views collide: the nearer (blue, inverse depth 5) must win where they overlap
    rgb, depth, _ = scene()
    rgb[50:70, 100:120] = (0, 0, 255)
    depth[50:70, 100:120] = 5.0
    pair = stereo_pair(rgb, depth, 10.0)
    blue = np.all(pair.left.image == (0, 0, 255), axis=-1)
    assert blue.sum() == 400


def test_layouts_place_the_views_as_named():
    rgb, depth, _ = scene()
    pair = stereo_pair(rgb, depth, 4.0)
    left, right = pair.left.image, pair.right.image
    assert not np.array_equal(left, right)
    sbs, cross, tb = (compose(left, right, layout) for layout in ("sbs", "cross", "tb"))
    w, h = rgb.shape[1], rgb.shape[0]
    assert np.array_equal(sbs[:, :w], left) and np.array_equal(sbs[:, w:], right)
    assert np.array_equal(cross[:, :w], right) and np.array_equal(cross[:, w:], left)
    assert np.array_equal(tb[:h], left) and np.array_equal(tb[h:], right)
    assert np.array_equal(compose(left, right, "anaglyph"), anaglyph(left, right))
    assert set(LAYOUTS) == {"sbs", "cross", "tb", "anaglyph"}
    with pytest.raises(ValueError, match="layout must be one of"):
        compose(left, right, "interlaced")


def _dubois_reference(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """An independent float64 implementation: sRGB -> linear, Dubois matrices, clip, -> sRGB."""
    def linear(c):
        c = c / 255.0
        return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)

    ml = np.array([[0.437, 0.449, 0.164], [-0.062, -0.062, -0.024], [-0.048, -0.050, -0.017]])
    mr = np.array([[-0.011, -0.032, -0.007], [0.377, 0.761, 0.009], [-0.026, -0.093, 1.234]])
    v = np.clip(linear(left.astype(float)) @ ml.T + linear(right.astype(float)) @ mr.T, 0, 1)
    s = np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.rint(s * 255)


def test_the_anaglyph_takes_red_from_the_left_view_and_cyan_from_the_right():
    rng = np.random.default_rng(3)
    left = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    right = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    black = np.zeros_like(left)
    only_left, only_right = anaglyph(left, black), anaglyph(black, right)
    assert np.all(only_left[..., 1:] == 0) and only_left[..., 0].mean() > 60  # red only, from the left
    assert np.all(only_right[..., 0] == 0) and only_right[..., 1:].mean() > 60  # cyan only, from the right
    both = anaglyph(left, right)
    luma_l = left.astype(float) @ [0.3, 0.6, 0.1]
    luma_r = right.astype(float) @ [0.3, 0.6, 0.1]
    corr = lambda a, b: np.corrcoef(a.ravel(), b.ravel())[0, 1]  # noqa: E731
    assert corr(both[..., 0], luma_l) > 0.8 and abs(corr(both[..., 0], luma_r)) < 0.2
    assert corr(both[..., 1], luma_r) > 0.8 and abs(corr(both[..., 1], luma_l)) < 0.2
    # Dubois in linear light, not channel swapping: within one level of an independent float64 version
    assert np.abs(both.astype(float) - _dubois_reference(left, right)).max() <= 1
    swapped = np.concatenate([left[..., :1], right[..., 1:]], axis=-1)
    assert np.abs(both.astype(int) - swapped).mean() > 10


def test_a_constant_map_gives_no_depth_and_says_so():
    rgb, _, _ = scene()
    pair = stereo_pair(rgb, np.full(rgb.shape[:2], 0.7, np.float32), 5.0, 0.5)
    assert pair.disparity.note is not None and "constant" in pair.disparity.note
    assert np.all(pair.disparity.pixels == 0.0) and np.isfinite(pair.disparity.pixels).all()
    assert np.array_equal(pair.left.image, rgb) and np.array_equal(pair.right.image, rgb)
    assert disparity_map(depth := np.ones((3, 4)), 5.0).note is not None and depth.sum() == 12


@pytest.mark.parametrize("shape", [(1, 50), (50, 1), (1, 1)])
def test_a_one_pixel_thin_image_still_gives_two_filled_views(shape):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    depth = rng.random(shape).astype(np.float32)
    pair = stereo_pair(rgb, depth, MAX_STRENGTH_PCT, 0.0)
    for view in (pair.left, pair.right):
        assert view.image.shape == rgb.shape and view.holes.shape == shape
    assert compose(pair.left.image, pair.right.image, "sbs").shape == (shape[0], 2 * shape[1], 3)


def test_non_finite_depth_is_treated_as_the_far_end():
    rgb, depth, mask = scene()
    depth[5:10, 5:10] = np.nan
    depth[10:12, 5:10] = -np.inf
    pair = stereo_pair(rgb, depth, 5.0)
    assert np.isfinite(pair.disparity.pixels).all() and pair.disparity.pixels[5:12, 5:10].max() == 0.0
    assert red(pair.left.image).sum() == mask.sum()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"strength_pct": 0.0}, ValueError, "must be > 0"),
        ({"strength_pct": -1.0}, ValueError, "strength_pct must be in"),
        ({"strength_pct": MAX_STRENGTH_PCT + 1}, ValueError, "strength_pct must be in"),
        ({"strength_pct": float("nan")}, ValueError, "finite"),
        ({"strength_pct": True}, TypeError, "strength_pct must be a real number"),
        ({"convergence": 1.5}, ValueError, "convergence must be in"),
        ({"fill": "blur"}, ValueError, "fill must be one of"),
    ],
)
def test_bad_settings_are_refused_with_what_to_pass(kwargs, error, match):
    rgb, depth, _ = scene(20, 30, (5, 10, 5, 10))
    with pytest.raises(error, match=match):
        stereo_pair(rgb, depth, **kwargs)


@pytest.mark.parametrize(
    ("rgb", "depth", "error", "match"),
    [
        (np.zeros((4, 5, 3), np.uint8), np.zeros((4, 6)), ValueError, "the photo's own depth"),
        (np.zeros((4, 5, 3), np.float32), np.zeros((4, 5)), ValueError, "uint8 RGB"),
        (np.zeros((4, 5), np.uint8), np.zeros((4, 5)), ValueError, "HxWx3"),
        (np.zeros((0, 5, 3), np.uint8), np.zeros((0, 5)), ValueError, "empty"),
        ([[1, 2, 3]], np.zeros((1, 1)), TypeError, "numpy array"),
        (np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), bool), ValueError, "real HxW map"),
        (np.zeros((4, 5, 3), np.uint8), "depth", TypeError, "numpy array"),
    ],
)
def test_bad_arrays_are_refused(rgb, depth, error, match):
    with pytest.raises(error, match=match):
        stereo_pair(rgb, depth)


def test_render_view_checks_its_disparity_and_shift():
    rgb, depth, _ = scene(20, 30, (5, 10, 5, 10))
    disparity = disparity_map(depth, 5.0)
    with pytest.raises(ValueError, match="disparity is"):
        render_view(rgb[:10], disparity)
    with pytest.raises(TypeError, match="Disparity"):
        render_view(rgb, depth)
    with pytest.raises(ValueError, match="pair"):
        render_view(rgb, disparity, (0.5,))
    assert np.array_equal(render_view(rgb, disparity, (0.0, 0.0)).image, rgb)  # no move: the photo


# ---- the camera baseline a strength means, after a calibration to metres

PLANE_M, BOX_M = 4.0, 1.0  # the scene's plane and box, in metres


def metric_scene(width: int = 240):
    """The box scene, calibrated from one box pixel at 1 m and one plane pixel at 4 m."""
    rgb, depth, mask = scene(width=width)
    box = np.argwhere(mask)[0]
    points = [CalibrationPoint(int(box[1]), int(box[0]), BOX_M), CalibrationPoint(0, 0, PLANE_M)]
    return rgb, depth, mask, calibrate(depth, points)


def metric_range(depth, cal) -> tuple[float, float]:
    """1 / Z in 1/m of the nearest and the farthest value, as the views count them."""
    lo, hi = depth_range(depth)
    return cal.inverse_depth_at(hi), cal.inverse_depth_at(lo)


def test_the_calibration_puts_the_box_and_the_plane_at_their_metres():
    _, depth, _, cal = metric_scene()
    assert cal.depth_at(3.0) == pytest.approx(BOX_M) and cal.depth_at(1.0) == pytest.approx(PLANE_M)
    assert metric_range(depth, cal) == pytest.approx((1 / BOX_M, 1 / PLANE_M))


@pytest.mark.parametrize("fov_deg", [40.0, 60.0, 90.0])
@pytest.mark.parametrize("strength_pct", [0.5, 3.0, 8.3, MAX_STRENGTH_PCT])
def test_a_strength_is_one_baseline_and_back(strength_pct, fov_deg):
    _, depth, _, cal = metric_scene()
    width = depth.shape[1]
    focal = focal_px_from_fov(width, fov_deg)
    near, far = metric_range(depth, cal)
    baseline = baseline_m(strength_pct, width, focal, near, far)
    assert baseline > 0
    assert strength_for_baseline(baseline, width, focal, near, far) == pytest.approx(strength_pct, rel=1e-12)


@pytest.mark.parametrize(("width", "fov_deg", "baseline"), [(240, 60.0, 0.065), (240, 40.0, 0.03), (400, 75.0, 0.1)])
def test_the_box_disparity_is_f_times_b_times_the_inverse_depth_step(width, fov_deg, baseline):
    """Two cameras B apart see the box at 1 m and the plane at 4 m f * B * (1/1 - 1/4) px apart."""
    rgb, depth, mask, cal = metric_scene(width)
    focal = focal_px_from_fov(width, fov_deg)
    expected_px = focal * baseline * (1 / BOX_M - 1 / PLANE_M)
    strength = strength_for_baseline(baseline, width, focal, *metric_range(depth, cal))
    assert strength / 100 * width == pytest.approx(expected_px)
    assert baseline_m(strength, width, focal, *metric_range(depth, cal)) == pytest.approx(baseline)
    # the rendered views: the far plane at the screen, the box moved by that disparity
    pair = stereo_pair(rgb, depth, strength, convergence=0.0)
    np.testing.assert_allclose(pair.disparity.pixels[mask], expected_px, rtol=1e-6)
    left, right = (red(v.image) & ~v.holes for v in (pair.left, pair.right))
    assert abs((columns(left)[0] - columns(right)[0]) - expected_px) <= 1.0


def test_the_baseline_uses_the_range_the_views_are_normalised_by():
    rgb, depth, mask, cal = metric_scene()
    depth[2:4, 2:4] = np.nan  # counts as the farthest value, in the views and in the baseline
    assert depth_range(depth) == (1.0, 3.0)
    width, focal = depth.shape[1], focal_px_from_fov(depth.shape[1], 60.0)
    pct = strength_for_baseline(0.05, width, focal, *metric_range(depth, cal))
    d = disparity_map(depth, pct)
    assert d.nearness[mask].min() == 1.0 and d.pixels[mask].max() == pytest.approx(focal * 0.05 * 0.75)


def test_a_baseline_beyond_the_allowed_strengths_says_which_baselines_fit():
    _, depth, _, cal = metric_scene()
    width, focal = depth.shape[1], focal_px_from_fov(depth.shape[1], 60.0)
    near, far = metric_range(depth, cal)
    most = baseline_m(10.0, width, focal, near, far)
    with pytest.raises(ValueError, match=rf"more than the 10 % allowed.*at most {most * 100:.3g} cm"):
        strength_for_baseline(3 * most, width, focal, near, far, max_pct=10.0)
    with pytest.raises(ValueError, match=rf"more than the {MAX_STRENGTH_PCT:g} % allowed"):
        strength_for_baseline(10.0, width, focal, near, far)  # 10 m apart
    with pytest.raises(ValueError, match="less than the 0.5 % allowed.*at least"):
        strength_for_baseline(1e-4, width, focal, near, far, min_pct=0.5)
    assert strength_for_baseline(most, width, focal, near, far, max_pct=10.0) == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((3.0, 240, 200.0, 0.5, 0.5), ValueError, "constant map has no depth range"),
        ((3.0, 240, 200.0, 0.25, 1.0), ValueError, "must be larger than inv_depth_far"),
        ((3.0, 240, 200.0, -0.1, -0.5), ValueError, "at or beyond infinity"),
        ((3.0, 240, 0.0, 1.0, 0.25), ValueError, "focal_px must be > 0"),
        ((3.0, 240, float("inf"), 1.0, 0.25), ValueError, "focal_px must be finite"),
        ((3.0, 0, 200.0, 1.0, 0.25), ValueError, "width must be"),
        ((3.0, 240.0, 200.0, 1.0, 0.25), TypeError, "width must be an int"),
        ((0.0, 240, 200.0, 1.0, 0.25), ValueError, "strength_pct must be > 0"),
        ((25.0, 240, 200.0, 1.0, 0.25), ValueError, "strength_pct must be in"),
    ],
)
def test_baseline_m_refuses_bad_input_with_what_to_pass(args, error, match):
    with pytest.raises(error, match=match):
        baseline_m(*args)


def test_strength_for_baseline_refuses_a_baseline_that_is_not_a_distance():
    with pytest.raises(ValueError, match="baseline_m must be > 0"):
        strength_for_baseline(0.0, 240, 200.0, 1.0, 0.25)
    with pytest.raises(TypeError, match="baseline_m must be a real number"):
        strength_for_baseline("6.3 cm", 240, 200.0, 1.0, 0.25)
    with pytest.raises(ValueError, match="max_pct must be in"):
        strength_for_baseline(0.063, 240, 200.0, 1.0, 0.25, max_pct=30.0)


def test_a_far_end_beyond_infinity_still_gives_a_baseline():
    """Sky that a fit puts beyond infinity (1/Z <= 0): the disparity, linear in 1/Z, is still defined."""
    assert baseline_m(3.0, 240, 200.0, 0.5, -0.1) == pytest.approx(7.2 / (200.0 * 0.6))
