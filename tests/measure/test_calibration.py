from __future__ import annotations

import math

import numpy as np
import pytest

from core.measure.calibration import (
    Calibration,
    CalibrationError,
    CalibrationPoint,
    calibrate,
    check_points,
    measure_distance,
)


def _ramp(height: int = 20, width: int = 30) -> np.ndarray:
    """HxW relative inverse depth increasing to the right and downwards, values 10..~150."""
    yy, xx = np.mgrid[0:height, 0:width]
    return (10.0 + 3.0 * xx + 2.5 * yy).astype(np.float32)


def test_two_points_give_an_exact_fit() -> None:
    pred = _ramp()
    s_true, b_true = 0.02, 0.1  # 1 / depth_m = s * pred + b
    pts = [CalibrationPoint(2, 3, 0.0), CalibrationPoint(25, 15, 0.0)]
    pts = [
        CalibrationPoint(p.x, p.y, 1.0 / (s_true * float(pred[p.y, p.x]) + b_true)) for p in pts
    ]

    cal = calibrate(pred, pts)

    assert cal.scale == pytest.approx(s_true, rel=1e-9)
    assert cal.shift == pytest.approx(b_true, rel=1e-9)
    assert cal.points == tuple(pts)
    np.testing.assert_allclose(cal.residuals_m, [0.0, 0.0], atol=1e-12)
    assert cal.rms_residual_m == pytest.approx(0.0, abs=1e-12)
    for p in pts:
        assert cal.depth_at(float(pred[p.y, p.x])) == pytest.approx(p.distance_m, rel=1e-9)
    depth, valid = cal.depth_map(pred)
    assert depth.dtype == np.float32 and depth.shape == pred.shape and valid.all()
    np.testing.assert_allclose(depth, 1.0 / (s_true * pred.astype(np.float64) + b_true), rtol=1e-6)


def test_three_noisy_points_match_numpy_lstsq() -> None:
    pred = _ramp()
    pts = [
        CalibrationPoint(0, 0, 4.1),  # pred 10
        CalibrationPoint(10, 5, 1.9),  # pred 52.5
        CalibrationPoint(29, 19, 0.95),  # pred 144.5
    ]

    cal = calibrate(pred, pts)

    p = np.array([float(pred[q.y, q.x]) for q in pts])
    d = np.array([q.distance_m for q in pts])
    a = np.stack([p, np.ones_like(p)], axis=1)
    (s, b), *_ = np.linalg.lstsq(a, 1.0 / d, rcond=None)
    expected_residuals = 1.0 / (s * p + b) - d
    assert cal.scale == pytest.approx(s, rel=1e-9)
    assert cal.shift == pytest.approx(b, rel=1e-9)
    np.testing.assert_allclose(cal.residuals_m, expected_residuals, rtol=1e-9, atol=1e-12)
    assert max(abs(r) for r in cal.residuals_m) > 1e-3  # really a least-squares compromise
    assert cal.rms_residual_m == pytest.approx(math.sqrt(np.mean(expected_residuals**2)), rel=1e-9)


def test_rms_residual_hand_computed() -> None:
    # residuals 0.3 and -0.4 m: mean square (0.09 + 0.16) / 2 = 0.125
    cal = Calibration(scale=1.0, shift=0.0, residuals_m=(0.3, -0.4), points=())
    assert cal.rms_residual_m == pytest.approx(math.sqrt(0.125), rel=1e-12)
    assert Calibration(1.0, 0.0, (0.0, 0.0), ()).rms_residual_m == 0.0


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_points_is_refused(n: int) -> None:
    pts = [CalibrationPoint(1, 1, 2.0)][:n]
    with pytest.raises(CalibrationError, match="at least 2 calibration points"):
        calibrate(_ramp(), pts)


@pytest.mark.parametrize(("x", "y"), [(30, 5), (5, 20), (-1, 5), (5, -1)])
def test_point_outside_the_image_is_named(x: int, y: int) -> None:
    pts = [CalibrationPoint(0, 0, 3.0), CalibrationPoint(x, y, 1.0)]
    expected = rf"point 2 at \(x={x}, y={y}\) is outside the 30x20"
    with pytest.raises(CalibrationError, match=expected):
        calibrate(_ramp(), pts)


@pytest.mark.parametrize("distance", [0.0, -2.0, math.inf, math.nan])
def test_non_positive_or_non_finite_distance_is_refused(distance: float) -> None:
    pts = [CalibrationPoint(0, 0, 3.0), CalibrationPoint(20, 10, distance)]
    with pytest.raises(CalibrationError, match="point 2 .*must be a positive number of metres"):
        calibrate(_ramp(), pts)


def test_a_typed_minus_sign_is_kept_and_refused_even_alone() -> None:
    # finding 10: "-4" must never silently become 4, and one point is enough to say so
    with pytest.raises(CalibrationError, match=r"point 1 at \(x=2, y=3\) has distance -4 m"):
        check_points([CalibrationPoint(2, 3, -4.0)], (20, 30))
    check_points([CalibrationPoint(2, 3, 4.0)], (20, 30))  # a single good point is fine so far


def test_points_at_the_same_predicted_depth_are_refused() -> None:
    pred = _ramp()
    # pred[0, 5] = 25 and pred[6, 0] = 25: the model puts both at the same depth.
    pts = [CalibrationPoint(5, 0, 1.0), CalibrationPoint(0, 6, 2.0)]
    with pytest.raises(CalibrationError, match="same depth.*different depths"):
        calibrate(pred, pts)


def test_points_at_nearly_the_same_predicted_depth_are_refused() -> None:
    pred = _ramp()
    pred[0, 1] = pred[0, 0] + 1e-4 * (pred.max() - pred.min())
    pts = [CalibrationPoint(0, 0, 1.0), CalibrationPoint(1, 0, 2.0)]
    with pytest.raises(CalibrationError, match="nearly"):
        calibrate(pred, pts)


def test_the_same_pixel_twice_with_different_distances_is_refused() -> None:
    # finding 10: two clicks on one pixel, 3 m and 5 m, is a conflict, not "the same depth"
    pts = [CalibrationPoint(3, 3, 3.0), CalibrationPoint(3, 3, 5.0)]
    expected = r"points 1 and 2 are the same pixel \(x=3, y=3\) twice, with conflicting distances 3 m and 5 m"
    with pytest.raises(CalibrationError, match=expected):
        calibrate(_ramp(), pts)


def test_the_same_pixel_twice_with_one_distance_is_refused_among_others() -> None:
    pts = [CalibrationPoint(0, 0, 5.0), CalibrationPoint(3, 3, 2.0), CalibrationPoint(3, 3, 2.0)]
    with pytest.raises(CalibrationError, match=r"points 2 and 3 are the same pixel .* same distance 2 m"):
        calibrate(_ramp(), pts)


def test_messages_name_points_by_the_given_numbers() -> None:
    # the page numbers points by their table row, which skips rows still missing a value
    pts = [CalibrationPoint(3, 3, 3.0), CalibrationPoint(3, 3, 5.0)]
    with pytest.raises(CalibrationError, match="points 2 and 5 are the same pixel"):
        calibrate(_ramp(), pts, numbers=[2, 5])
    with pytest.raises(CalibrationError, match=r"point 4 \(1 m\) is nearer than point 7 \(5 m\)"):
        calibrate(_ramp(), [CalibrationPoint(0, 0, 1.0), CalibrationPoint(29, 19, 5.0)], numbers=[4, 7])
    with pytest.raises(ValueError, match="numbers must name each"):
        check_points(pts, (20, 30), numbers=[1])


def test_depth_order_contradicting_the_model_is_refused() -> None:
    pred = _ramp()
    # Pixel (29, 19) has the largest predicted inverse depth (nearest by the model),
    # but the user says it is the farther one.
    pts = [CalibrationPoint(0, 0, 1.0), CalibrationPoint(29, 19, 5.0)]
    with pytest.raises(CalibrationError, match=r"point 1 \(1 m\) is nearer than point 2 \(5 m\)"):
        calibrate(pred, pts)


def test_equal_distances_at_different_predicted_depths_are_refused() -> None:
    pts = [CalibrationPoint(0, 0, 2.0), CalibrationPoint(29, 19, 2.0)]
    with pytest.raises(CalibrationError, match="same distance"):
        calibrate(_ramp(), pts)


def test_fit_putting_a_point_beyond_infinity_is_refused() -> None:
    # pred values 0, 1, 2 with 1/d = 0.01, 0.01, 1.0: the least-squares line is
    # 0.495 * p - 0.155, negative at p = 0.
    pred = np.array([[0.0, 1.0, 2.0]])
    pts = [
        CalibrationPoint(0, 0, 100.0),
        CalibrationPoint(1, 0, 100.0),
        CalibrationPoint(2, 0, 1.0),
    ]
    with pytest.raises(CalibrationError, match="point\\(s\\) 1 at or beyond infinity"):
        calibrate(pred, pts)


def test_bad_point_types() -> None:
    with pytest.raises(TypeError, match="CalibrationPoint"):
        calibrate(_ramp(), [(0, 0, 1.0), (5, 5, 2.0)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="integer pixel coordinates"):
        pts = [CalibrationPoint(0.5, 0, 1.0), CalibrationPoint(5, 5, 2.0)]  # type: ignore[arg-type]
        calibrate(_ramp(), pts)


def test_calibration_error_is_a_value_error() -> None:
    assert issubclass(CalibrationError, ValueError)


def test_depth_map_marks_pixels_beyond_infinity_invalid() -> None:
    cal = Calibration(scale=1.0, shift=-2.0, residuals_m=(), points=())
    pred = np.array([[1.0, 2.0], [3.0, 6.0]])

    depth, valid = cal.depth_map(pred)

    np.testing.assert_array_equal(valid, [[False, False], [True, True]])
    np.testing.assert_allclose(depth, [[0.0, 0.0], [1.0, 0.25]])
    with pytest.raises(ValueError, match="farther than this calibration"):
        cal.depth_at(1.0)
    # inverse depth is defined there too (at or beyond infinity: 0 or less), as a disparity needs
    assert [cal.inverse_depth_at(v) for v in (1.0, 2.0, 3.0)] == [-1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="finite"):
        cal.inverse_depth_at(float("nan"))


def test_measure_distance_same_depth_symmetric_about_centre() -> None:
    # W=100, H=50, FOV 90 deg: fx = (100/2) / tan(45 deg) = 50, cx = 49.5.
    # x = 19 and x = 80 are 30.5 px either side of cx; at Z = 2 m each is
    # X = +-30.5 * 2 / 50 = +-1.22 m from the axis, so they are 2.44 m apart.
    depth = np.full((50, 100), 2.0, dtype=np.float32)

    dist = measure_distance(depth, (19, 24), (80, 24), fov_deg=90.0)

    assert dist == pytest.approx(2.44, rel=1e-9)
    assert measure_distance(depth, (80, 24), (19, 24), fov_deg=90.0) == pytest.approx(dist)


def test_measure_distance_along_the_optical_axis() -> None:
    # Odd size: the principal point (W/2 - 0.5, H/2 - 0.5) = (2, 1) is a pixel centre,
    # so it back-projects onto the optical axis: X = Y = 0, whatever the FOV.
    depth = np.full((3, 5), 4.0)
    depth[1, 2] = 1.5
    # Pixel (3, 1) at Z = 4: X = 1 * 4 / fx with fx = 2.5 / tan(30 deg).
    fx = 2.5 / math.tan(math.radians(30.0))
    expected = math.hypot(4.0 / fx, 4.0 - 1.5)

    assert measure_distance(depth, (2, 1), (3, 1), fov_deg=60.0) == pytest.approx(expected)
    assert measure_distance(depth, (2, 1), (2, 1), fov_deg=60.0) == 0.0


@pytest.mark.parametrize("fov", [0.0, 180.0, -10.0, math.nan])
def test_measure_distance_rejects_bad_fov(fov: float) -> None:
    with pytest.raises(ValueError, match="fov_deg"):
        measure_distance(np.ones((4, 4)), (0, 0), (1, 1), fov_deg=fov)


def test_measure_distance_rejects_bad_pixels_and_depths() -> None:
    depth = np.ones((4, 6))
    depth[2, 3] = 0.0
    with pytest.raises(ValueError, match=r"p2=\(6, 0\) is outside the 6x4 image"):
        measure_distance(depth, (0, 0), (6, 0), fov_deg=60.0)
    with pytest.raises(ValueError, match=r"depth at p1=\(3, 2\)"):
        measure_distance(depth, (3, 2), (0, 0), fov_deg=60.0)
    with pytest.raises(ValueError, match="HxW"):
        measure_distance(np.ones((4, 6, 1)), (0, 0), (1, 1), fov_deg=60.0)
