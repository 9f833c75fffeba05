from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.geometry.camera import pinhole_intrinsics, unproject
from core.geometry.pointcloud import (
    COLOR_MODES,
    MAX_BUDGET,
    CloudSettings,
    PointCloud,
    build_cloud,
    build_point_cloud,
    even_subsample,
    inverse_depth_reference,
)
from core.maps.colormaps import colorize
from core.maps.stats import depth_stats, histogram


def _coded_rgb(height: int, width: int) -> np.ndarray:
    """An image whose colour encodes the pixel: (row % 256, col % 256, (row // 256) * 16 + col // 256)."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([rows % 256, cols % 256, (rows // 256) * 16 + cols // 256], axis=-1).astype(np.uint8)


def _pixels_of(cloud: PointCloud, width: int, height: int, fov_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Project points back to (row, col) integers."""
    fx, fy, cx, cy = pinhole_intrinsics(width, height, fov_deg)
    x, y, z = cloud.xyz.astype(np.float64).T
    cols = np.rint(x / z * fx + cx).astype(int)
    rows = np.rint(y / z * fy + cy).astype(int)
    return rows, cols


# ---------------------------------------------------------------- even_subsample


@pytest.mark.parametrize(
    "height,width,budget",
    [(3000, 4000, 50_000), (3000, 4000, 300_000), (480, 640, 1000), (100, 100, 9999), (4000, 3000, 123_456)],
)
def test_even_subsample_fills_the_budget_evenly(height: int, width: int, budget: int) -> None:
    rows, cols = even_subsample(height, width, budget)
    count = len(rows) * len(cols)
    assert count <= budget
    assert count >= 0.9 * budget
    assert rows[0] == 0 and rows[-1] == height - 1 and cols[0] == 0 and cols[-1] == width - 1
    row_step = (height - 1) / (len(rows) - 1)
    col_step = (width - 1) / (len(cols) - 1)
    assert 0.75 < row_step / col_step < 1.34
    assert np.all(np.diff(rows) >= math.floor(row_step)) and np.all(np.diff(rows) <= math.ceil(row_step))


def test_even_subsample_keeps_everything_within_budget() -> None:
    rows, cols = even_subsample(4, 5, 20)
    np.testing.assert_array_equal(rows, np.arange(4))
    np.testing.assert_array_equal(cols, np.arange(5))


def test_even_subsample_hand_computed() -> None:
    rows, cols = even_subsample(5, 5, 9)
    np.testing.assert_array_equal(rows, [0, 2, 4])
    np.testing.assert_array_equal(cols, [0, 2, 4])
    rows, cols = even_subsample(7, 5, 1)
    np.testing.assert_array_equal(rows, [3])
    np.testing.assert_array_equal(cols, [2])
    # a tiny budget still gets a square-ish grid, not one long row of 7
    rows, cols = even_subsample(1080, 1920, 7)
    np.testing.assert_array_equal(rows, [0, 1079])
    np.testing.assert_array_equal(cols, [0, 960, 1919])
    rows, cols = even_subsample(1, 1000, 10)
    assert rows.tolist() == [0] and len(cols) == 10


@settings(deadline=None, max_examples=200)
@given(st.integers(1, 400), st.integers(1, 400), st.integers(1, 200_000))
def test_even_subsample_properties(height: int, width: int, budget: int) -> None:
    rows, cols = even_subsample(height, width, budget)
    assert len(rows) * len(cols) <= budget
    for index, size in ((rows, height), (cols, width)):
        assert index.dtype == np.intp
        assert np.all(np.diff(index) > 0) and index[0] >= 0 and index[-1] < size
    if budget >= height * width:
        assert len(rows) * len(cols) == height * width


@pytest.mark.parametrize("budget", [0, -5])
def test_even_subsample_rejects_bad_budget(budget: int) -> None:
    with pytest.raises(ValueError, match="budget"):
        even_subsample(10, 10, budget)


# ---------------------------------------------------------------- PointCloud


def test_point_cloud_validation() -> None:
    xyz = np.zeros((2, 3), np.float32)
    rgb = np.zeros((2, 3), np.uint8)
    assert len(PointCloud(xyz, rgb)) == 2
    with pytest.raises(ValueError, match="finite"):
        PointCloud(np.array([[0, 0, np.nan], [0, 0, 1]], np.float32), rgb)
    with pytest.raises(ValueError, match="finite"):
        PointCloud(np.array([[0, 0, np.inf], [0, 0, 1]], np.float32), rgb)
    with pytest.raises(TypeError, match="float32"):
        PointCloud(xyz.astype(np.float64), rgb)
    with pytest.raises(TypeError, match="uint8"):
        PointCloud(xyz, rgb.astype(np.int32))
    with pytest.raises(ValueError, match="same N"):
        PointCloud(xyz, rgb[:1])
    with pytest.raises(ValueError, match="Nx3"):
        PointCloud(np.zeros((2, 4), np.float32), np.zeros((2, 4), np.uint8))


# ---------------------------------------------------------------- build_point_cloud


@pytest.mark.parametrize("height,width", [(1, 1), (4, 6), (60, 80)])
@pytest.mark.parametrize("fov", [40.0, 90.0])
def test_constant_inverse_depth_gives_a_plane(height: int, width: int, fov: float) -> None:
    inv = np.full((height, width), 0.5, np.float32)
    rgb = _coded_rgb(height, width)
    cloud = build_point_cloud(inv, rgb, fov_deg=fov, budget=MAX_BUDGET)
    assert len(cloud) == height * width
    np.testing.assert_allclose(cloud.xyz[:, 2], 2.0)
    expected = unproject(np.full((height, width), 2.0, np.float32), fov)
    np.testing.assert_array_equal(cloud.xyz, expected)
    np.testing.assert_array_equal(cloud.rgb, rgb.reshape(-1, 3))


@pytest.mark.parametrize("budget", [1, 100, 2500, 10_000])
def test_budget_is_respected_and_colors_follow_their_pixels(budget: int) -> None:
    height, width = 300, 400
    rng = np.random.default_rng(budget)
    inv = (rng.random((height, width)) + 0.1).astype(np.float32)
    rgb = _coded_rgb(height, width)
    cloud = build_point_cloud(inv, rgb, fov_deg=70.0, scale=2.0, shift=0.5, budget=budget)
    assert 0.9 * budget <= len(cloud) <= budget
    rows, cols = _pixels_of(cloud, width, height, 70.0)
    np.testing.assert_array_equal(cloud.rgb, rgb[rows, cols])
    np.testing.assert_allclose(cloud.xyz[:, 2], 1.0 / (2.0 * inv[rows, cols] + 0.5), rtol=1e-6)


def test_invalid_pixels_are_dropped_and_the_budget_still_filled() -> None:
    height, width = 200, 300
    inv = np.full((height, width), 0.25, np.float32)
    inv[:, :150] = 0.0  # infinitely far: invalid
    inv[:50, 150:] = np.nan
    inv[50:60, 150:] = np.inf
    rgb = _coded_rgb(height, width)
    cloud = build_point_cloud(inv, rgb, budget=5000)
    assert 0.9 * 5000 <= len(cloud) <= 5000
    rows, cols = _pixels_of(cloud, width, height, 60.0)
    assert cols.min() >= 150 and rows.min() >= 60
    np.testing.assert_allclose(cloud.xyz[:, 2], 4.0)


def test_near_and_far_clip() -> None:
    inv = np.tile(np.linspace(0.1, 1.0, 50, dtype=np.float32), (40, 1))  # depth 10 ... 1
    rgb = _coded_rgb(40, 50)
    cloud = build_point_cloud(inv, rgb, near_clip=2.0, far_clip=5.0, budget=MAX_BUDGET)
    z = cloud.xyz[:, 2]
    depth = 1.0 / inv
    expected = np.count_nonzero((depth >= 2.0) & (depth <= 5.0))
    assert len(cloud) == expected > 0
    assert z.min() >= 2.0 and z.max() <= 5.0


def test_colors_override_rgb() -> None:
    inv = np.ones((4, 4), np.float32)
    rgb = np.zeros((4, 4, 3), np.uint8)
    colors = _coded_rgb(4, 4)
    cloud = build_point_cloud(inv, rgb, colors=colors, budget=16)
    np.testing.assert_array_equal(cloud.rgb, colors.reshape(-1, 3))


def test_nothing_valid_gives_an_empty_cloud() -> None:
    inv = np.full((10, 10), -1.0, np.float32)
    cloud = build_point_cloud(inv, np.zeros((10, 10, 3), np.uint8), budget=5)
    assert len(cloud) == 0 and cloud.xyz.shape == (0, 3) and cloud.rgb.shape == (0, 3)


def test_a_small_valid_region_missed_by_the_grid_is_found() -> None:
    inv = np.zeros((100, 100), np.float32)
    inv[51, 51] = 1.0  # not on the 10 x 10 grid
    cloud = build_point_cloud(inv, _coded_rgb(100, 100), budget=100)
    assert len(cloud) == 1
    np.testing.assert_array_equal(cloud.rgb[0], [51, 51, 0])


@pytest.mark.parametrize("budget", [0, MAX_BUDGET + 1])
def test_build_point_cloud_rejects_bad_budget(budget: int) -> None:
    with pytest.raises(ValueError, match="budget"):
        build_point_cloud(np.ones((4, 4), np.float32), np.zeros((4, 4, 3), np.uint8), budget=budget)


def test_build_point_cloud_validation() -> None:
    inv = np.ones((4, 4), np.float32)
    rgb = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="4x4x3"):
        build_point_cloud(inv, np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        build_point_cloud(inv, rgb.astype(np.float32))
    with pytest.raises(ValueError, match="near_clip must be <= far_clip"):
        build_point_cloud(inv, rgb, near_clip=3.0, far_clip=1.0)
    with pytest.raises(ValueError, match="scale"):
        build_point_cloud(inv, rgb, scale=0.0)
    with pytest.raises(ValueError, match="fov_deg"):
        build_point_cloud(inv, rgb, fov_deg=180.0)


# ---------------------------------------------------------------- build_cloud (the 3D page's settings)


def _cloud_settings(**changes: object) -> CloudSettings:
    values = dict(fov_deg=60.0, scale=1.0, shift=0.1, keep_pct=(0.0, 100.0), budget=MAX_BUDGET,
                  colors=COLOR_MODES[0], cmap="inferno", clip_pct=(0.0, 100.0), invert=False)
    values.update(changes)
    return CloudSettings(**values)  # type: ignore[arg-type]


def _ramp(height: int = 40, width: int = 50) -> np.ndarray:
    return np.tile(np.linspace(0.1, 1.0, width, dtype=np.float32), (height, 1))  # larger = nearer to the right


def test_inverse_depth_reference_is_the_99th_percentile_or_a_positive_fallback() -> None:
    depth = _ramp()
    stats = depth_stats(depth)
    assert inverse_depth_reference(stats) == pytest.approx(stats.percentiles[99]) and stats.percentiles[99] > 0
    assert inverse_depth_reference(depth_stats(np.zeros((4, 4), np.float32))) == 1.0
    spike = np.full((40, 25), -1.0, np.float32)
    spike[0, 0] = 3.0  # the 99th percentile is negative, the maximum is not
    assert inverse_depth_reference(depth_stats(spike)) == pytest.approx(3.0)


def test_build_cloud_is_build_point_cloud_with_the_scale_relative_to_the_reference() -> None:
    depth, rgb = _ramp(), _coded_rgb(40, 50)
    stats, hist = depth_stats(depth), histogram(depth, bins=4096)
    cloud = build_cloud(depth, rgb, stats, hist, _cloud_settings(scale=2.0, budget=500))
    expected = build_point_cloud(depth, rgb, fov_deg=60.0, scale=2.0 / inverse_depth_reference(stats), shift=0.1,
                                 budget=500)
    np.testing.assert_array_equal(cloud.xyz, expected.xyz)
    np.testing.assert_array_equal(cloud.rgb, expected.rgb)
    assert 450 <= len(cloud) <= 500


def test_build_cloud_keeps_the_depth_percentiles() -> None:
    depth, rgb = _ramp(), _coded_rgb(40, 50)
    stats, hist = depth_stats(depth), histogram(depth, bins=4096)
    everything = build_cloud(depth, rgb, stats, hist, _cloud_settings())
    assert len(everything) == 40 * 50
    kept = build_cloud(depth, rgb, stats, hist, _cloud_settings(keep_pct=(10.0, 80.0)))
    z_all = everything.xyz[:, 2]
    near, far = np.percentile(z_all, 10.0), np.percentile(z_all, 80.0)
    z = kept.xyz[:, 2]
    # each clip is a histogram percentile, within one of the 50 columns of the ramp
    assert 0.65 * len(everything) <= len(kept) <= 0.75 * len(everything)
    column = (z_all.max() - z_all.min()) / 10  # generous: depth steps are widest far away
    assert z.min() >= near - column and z.max() <= far + column
    assert z.min() > z_all.min() and z.max() < z_all.max()


def test_build_cloud_colors_by_the_depth_colormap() -> None:
    depth, rgb = _ramp(4, 5), _coded_rgb(4, 5)
    stats, hist = depth_stats(depth), histogram(depth, bins=4096)
    cloud = build_cloud(depth, rgb, stats, hist, _cloud_settings(colors=COLOR_MODES[1], cmap="viridis"))
    lo, hi = hist.percentiles((0.0, 100.0))
    np.testing.assert_array_equal(cloud.rgb, colorize(depth, "viridis", float(lo), float(hi), False).reshape(-1, 3))
    photo = build_cloud(depth, rgb, stats, hist, _cloud_settings())
    np.testing.assert_array_equal(photo.rgb, rgb.reshape(-1, 3))
