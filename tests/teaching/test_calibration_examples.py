from __future__ import annotations

import numpy as np
import pytest

from core.measure.calibration import CalibrationError, calibrate
from core.teaching.calibration_examples import EXAMPLE_KINDS, example_points


def _maps() -> list[np.ndarray]:
    yy, xx = np.mgrid[0:30, 0:40]
    ramp = (5.0 + 2.0 * yy + 0.5 * xx).astype(np.float32)
    noise = np.random.default_rng(3).uniform(0.0, 500.0, (48, 64)).astype(np.float32)
    with_zeros = noise.copy()
    with_zeros[:10] = 0.0  # like a network output clipped at 0 over a sky
    return [ramp, noise, with_zeros]


@pytest.mark.parametrize("pred", _maps())
def test_the_good_pair_calibrates_exactly(pred):
    points = example_points(pred, "good", near_m=1.5, far_m=5.0)
    cal = calibrate(pred, points)
    assert cal.scale > 0
    np.testing.assert_allclose(cal.residuals_m, [0.0, 0.0], atol=1e-9)
    assert sorted(p.distance_m for p in points) == [1.5, 5.0]


@pytest.mark.parametrize("pred", _maps())
def test_same_depth_is_refused(pred):
    points = example_points(pred, "same_depth")
    assert (points[0].x, points[0].y) != (points[1].x, points[1].y)
    assert points[0].distance_m != points[1].distance_m
    with pytest.raises(CalibrationError, match="same depth"):
        calibrate(pred, points)


@pytest.mark.parametrize("pred", _maps())
def test_wrong_order_is_refused_with_a_negative_scale(pred):
    with pytest.raises(CalibrationError, match="nearer"):
        calibrate(pred, example_points(pred, "wrong_order"))


def test_example_pixels_keep_off_the_border():
    pred = np.tile(np.arange(100, dtype=np.float32), (80, 1))  # the extremes are on the left and right edges
    far, near = example_points(pred, "good")
    for p in (far, near):
        assert 4 <= p.x <= 95 and 4 <= p.y <= 75


def test_every_kind_is_described():
    assert set(EXAMPLE_KINDS) == {"good", "same_depth", "wrong_order"}


def test_bad_requests_are_refused():
    pred = _maps()[0]
    with pytest.raises(ValueError, match="kind"):
        example_points(pred, "best")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="near_m"):
        example_points(pred, "good", near_m=5.0, far_m=1.0)
    with pytest.raises(ValueError, match="constant"):
        example_points(np.ones((5, 5)), "good")
