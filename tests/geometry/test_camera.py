from __future__ import annotations

import math

import numpy as np
import pytest

from core.geometry.camera import pinhole_intrinsics, unproject

# ---------------------------------------------------------------- intrinsics


def test_pinhole_intrinsics_hand_computed() -> None:
    fx, fy, cx, cy = pinhole_intrinsics(4, 2, 90.0)
    assert fx == pytest.approx(2.0) and fy == fx
    assert (cx, cy) == (1.5, 0.5)
    fx, _, cx, cy = pinhole_intrinsics(640, 480, 60.0)
    assert fx == pytest.approx(320.0 / math.tan(math.radians(30.0)))
    assert (cx, cy) == (319.5, 239.5)


@pytest.mark.parametrize("fov", [0.0, 180.0, -10.0, float("nan")])
def test_pinhole_intrinsics_rejects_bad_fov(fov: float) -> None:
    with pytest.raises(ValueError, match="fov_deg"):
        pinhole_intrinsics(4, 4, fov)


def test_pinhole_intrinsics_rejects_bad_size() -> None:
    with pytest.raises(ValueError, match="width"):
        pinhole_intrinsics(0, 4, 60.0)
    with pytest.raises(TypeError, match="height"):
        pinhole_intrinsics(4, 4.0, 60.0)


# ---------------------------------------------------------------- unproject: a depth map


def test_unproject_map_hand_computed() -> None:
    # W=4, H=2, FOV 90: fx = fy = 2, (cx, cy) = (1.5, 0.5); x = (u - 1.5) / 2 * z, y = (v - 0.5) / 2 * z
    depth = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 4.0, 2.0, 2.0]], np.float32)
    points = unproject(depth, 90.0)
    expected = [
        [-0.75, -0.25, 1.0], [-0.5, -0.5, 2.0], [0.75, -0.75, 3.0], [3.0, -1.0, 4.0],
        [-3.0, 1.0, 4.0], [-1.0, 1.0, 4.0], [0.5, 0.5, 2.0], [1.5, 0.5, 2.0],
    ]
    np.testing.assert_allclose(points, expected, atol=1e-6)
    assert points.dtype == np.float32 and points.shape == (8, 3)


@pytest.mark.parametrize("height,width", [(1, 1), (3, 3), (5, 7), (101, 201)])
def test_centre_pixel_unprojects_onto_the_axis(height: int, width: int) -> None:
    depth = np.full((height, width), 2.0, np.float32)
    points = unproject(depth, 60.0).reshape(height, width, 3)
    np.testing.assert_allclose(points[height // 2, width // 2], [0.0, 0.0, 2.0], atol=1e-5)


@pytest.mark.parametrize("height,width", [(1, 2), (3, 4), (5, 5), (480, 640)])
def test_edge_pixels_at_fov_90(height: int, width: int) -> None:
    # fx = W / 2, so the last column (u = W - 1) has x/z = (W/2 - 1/2) / (W/2) = 1 - 1/W
    depth = np.full((height, width), 3.0, np.float32)
    points = unproject(depth, 90.0).reshape(height, width, 3)
    expected = 1.0 - 1.0 / width
    np.testing.assert_allclose(points[:, -1, 0] / points[:, -1, 2], expected, rtol=1e-6)
    np.testing.assert_allclose(points[:, 0, 0] / points[:, 0, 2], -expected, rtol=1e-6)
    # y is down: the bottom row has y/z = (H/2 - 1/2) / (W/2) = (H - 1) / W
    np.testing.assert_allclose(points[-1, :, 1] / points[-1, :, 2], (height - 1) / width, rtol=1e-6, atol=1e-7)
    assert np.all(points[..., 2] == 3.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint16])
def test_unproject_map_subset_matches_full_grid(dtype: type) -> None:
    depth = (np.random.default_rng(0).random((6, 8)) * 10 + 1.0).astype(dtype)
    full = unproject(depth, 50.0).reshape(6, 8, 3)
    rows, cols = np.array([0, 2, 5]), np.array([1, 7])
    part = unproject(depth, 50.0, rows=rows, cols=cols)
    np.testing.assert_array_equal(part, full[np.ix_(rows, cols)].reshape(-1, 3))
    assert part.dtype == np.float32 and part.shape == (6, 3)
    only_rows = unproject(depth, 50.0, rows=rows)
    assert only_rows.shape == (3 * 8, 3)
    np.testing.assert_array_equal(only_rows, full[rows].reshape(-1, 3))


def test_unproject_map_keeps_non_finite_depths_as_non_finite_points() -> None:
    depth = np.array([[1.0, np.nan], [np.inf, 2.0]], np.float32)
    with np.errstate(invalid="ignore"):
        points = unproject(depth, 90.0)
    assert np.isnan(points[1]).any() and not np.isfinite(points[2]).all()
    assert np.isfinite(points[[0, 3]]).all()


def test_unproject_map_in_float64() -> None:
    depth = np.full((3, 5), 4.0)
    points = unproject(depth, 60.0, dtype=np.float64)
    fx = 2.5 / math.tan(math.radians(30.0))
    assert points.dtype == np.float64
    assert points[1 * 5 + 3, 0] == pytest.approx(4.0 / fx, rel=1e-15)


# ---------------------------------------------------------------- unproject: explicit pixels


def test_unproject_pixels_hand_computed() -> None:
    # W=4, H=3, FOV 90: fx = fy = 2, (cx, cy) = (1.5, 1.0)
    points = unproject(np.array([1.0, 4.0]), 90.0, pixels=(np.array([3.0, 1.5]), np.array([2.0, 1.0])),
                       image_size=(3, 4))
    np.testing.assert_allclose(points, [[0.75, 0.5, 1.0], [0.0, 0.0, 4.0]], atol=1e-7)
    assert points.dtype == np.float32 and points.shape == (2, 3)


@pytest.mark.parametrize("height,width", [(2, 2), (4, 6), (480, 640)])
def test_image_centre_unprojects_onto_the_axis_for_even_sizes(height: int, width: int) -> None:
    point = unproject([2.0], 75.0, pixels=([width / 2 - 0.5], [height / 2 - 0.5]), image_size=(height, width))
    np.testing.assert_allclose(point, [[0.0, 0.0, 2.0]], atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unproject_pixels_agree_with_the_map(dtype: type) -> None:
    depth = (np.random.default_rng(1).random((5, 7)) + 0.5).astype(np.float32)
    full = unproject(depth, 70.0, dtype=dtype)
    ys, xs = np.nonzero(np.ones_like(depth, bool))  # row-major, as the map's points
    points = unproject(depth[ys, xs], 70.0, pixels=(xs, ys), image_size=depth.shape, dtype=dtype)
    np.testing.assert_array_equal(points, full)
    assert points.dtype == dtype


def test_unproject_no_pixels_gives_no_points() -> None:
    points = unproject(np.zeros(0), 60.0, pixels=(np.zeros(0), np.zeros(0)), image_size=(4, 4))
    assert points.shape == (0, 3) and points.dtype == np.float32


# ---------------------------------------------------------------- unproject: bad input says what to pass


def test_unproject_map_validation() -> None:
    depth = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match=r"rows must lie in \[0, 3\), got range \[3, 3\]"):
        unproject(depth, 60.0, rows=np.array([3]))
    with pytest.raises(TypeError, match="cols must be a 1D integer index array"):
        unproject(depth, 60.0, cols=np.array([0.5]))
    with pytest.raises(ValueError, match=r"depth must be a real HxW array, got float32 shape \(3, 3, 1\)"):
        unproject(np.ones((3, 3, 1), np.float32), 60.0)
    with pytest.raises(ValueError, match="HxW"):
        unproject(np.array(["a", "b"]).reshape(1, 2), 60.0)
    with pytest.raises(TypeError, match="numpy.ndarray of shape HxW, got list"):
        unproject([[1.0, 2.0]], 60.0)
    with pytest.raises(ValueError, match="image_size is only for pixels="):
        unproject(depth, 60.0, image_size=(3, 3))
    with pytest.raises(ValueError, match="fov_deg"):
        unproject(depth, 180.0)
    with pytest.raises(TypeError, match="dtype must be numpy.float32 or numpy.float64"):
        unproject(depth, 60.0, dtype=np.float16)


def test_unproject_pixels_validation() -> None:
    with pytest.raises(ValueError, match=r"equal length N, got \(2,\), \(1,\), \(1,\)"):
        unproject([1.0], 60.0, pixels=([1.0, 2.0], [1.0]), image_size=(4, 4))
    with pytest.raises(ValueError, match="xs and ys must be finite"):
        unproject([1.0], 60.0, pixels=([1.0], [float("nan")]), image_size=(4, 4))
    with pytest.raises(ValueError, match=r"image_size=\(height, width\) is needed with pixels="):
        unproject([1.0], 60.0, pixels=([1.0], [1.0]))
    with pytest.raises(ValueError, match="either pixels= or rows=/cols="):
        unproject([1.0], 60.0, pixels=([1.0], [1.0]), image_size=(4, 4), rows=np.array([0]))
    with pytest.raises(ValueError, match=r"pair \(xs, ys\)"):
        unproject([1.0], 60.0, pixels=([1.0],), image_size=(4, 4))
    with pytest.raises(TypeError, match="depth must be a real numeric array"):
        unproject([True], 60.0, pixels=([1.0], [1.0]), image_size=(4, 4))
    with pytest.raises(ValueError, match="width must be >= 1"):
        unproject([1.0], 60.0, pixels=([1.0], [1.0]), image_size=(4, 0))


# ---------------------------------------------------------------- focal length in pixels <-> field of view


@pytest.mark.parametrize("width, fov", [(4, 90.0), (640, 60.0), (4000, 12.5), (1, 170.0)])
def test_focal_px_and_fov_are_inverse(width: int, fov: float) -> None:
    from core.geometry.camera import focal_px_from_fov, fov_from_focal_px

    f = focal_px_from_fov(width, fov)
    assert f == pytest.approx(pinhole_intrinsics(width, 3, fov)[0], rel=1e-12)
    assert fov_from_focal_px(width, f) == pytest.approx(fov, rel=1e-12)


@pytest.mark.parametrize("focal", [0.0, -5.0, float("inf"), float("nan")])
def test_fov_from_focal_px_rejects_bad_focal(focal: float) -> None:
    from core.geometry.camera import fov_from_focal_px

    with pytest.raises(ValueError, match="focal_px"):
        fov_from_focal_px(640, focal)
    with pytest.raises(TypeError, match="focal_px"):
        fov_from_focal_px(640, "500")
