from __future__ import annotations

import numpy as np
import pytest

from core.measure.alignment import AlignmentError
from core.teaching.scale_shift import midas_scale_shift, scale_shift_effect


def _map(height: int = 24, width: int = 32) -> np.ndarray:
    """Relative inverse depth from 10 (far, top) to about 57 (near, bottom), with some texture."""
    yy, xx = np.mgrid[0:height, 0:width]
    return (10.0 + 2.0 * yy + 0.3 * np.sin(xx)).astype(np.float32)


def test_midas_scale_shift_by_hand():
    # median 2.5; |d - 2.5| = 1.5, 0.5, 0.5, 7.5 -> mean 2.5
    assert midas_scale_shift(np.array([1.0, 2.0, 3.0, 10.0])) == (2.5, 2.5)


def test_midas_scale_shift_gives_zero_median_and_unit_mean_deviation():
    pred = _map() * 37.0 - 5.0
    alpha, beta = midas_scale_shift(pred)
    d_hat = (pred.astype(np.float64) - beta) / alpha
    assert np.median(d_hat) == pytest.approx(0.0, abs=1e-9)
    assert np.mean(np.abs(d_hat)) == pytest.approx(1.0, rel=1e-9)


def test_midas_scale_shift_ignores_non_finite_values():
    assert midas_scale_shift(np.array([1.0, np.nan, 3.0, np.inf])) == (1.0, 2.0)


def test_midas_scale_shift_of_a_constant_map_has_zero_scale():
    assert midas_scale_shift(np.full((3, 3), 4.0)) == (0.0, 4.0)


@pytest.mark.parametrize("bad", [np.array([np.nan]), np.array([], np.float32)])
def test_midas_scale_shift_needs_a_finite_value(bad):
    with pytest.raises(ValueError, match="no finite value"):
        midas_scale_shift(bad)


@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.0), (2.0, 0.5), (0.01, 9.0), (250.0, -40.0)])
def test_positive_scale_and_any_shift_leave_the_heatmap_and_are_recovered(alpha, beta):
    effect = scale_shift_effect(_map(), alpha, beta)

    assert effect.heatmap_change < 1e-5
    assert effect.recovered_alpha == pytest.approx(alpha, rel=1e-6)
    assert effect.recovered_beta == pytest.approx(beta, rel=1e-6, abs=1e-6)


def test_negative_scale_flips_the_heatmap():
    effect = scale_shift_effect(_map(), -1.0, 0.0)
    assert effect.heatmap_change == pytest.approx(1.0)


def test_scale_resizes_the_cloud_but_shift_changes_its_shape():
    pred = _map()
    base = scale_shift_effect(pred, 1.0, 0.0)
    scaled = scale_shift_effect(pred, 3.0, 0.0)
    shifted = scale_shift_effect(pred, 1.0, 8.0)

    # z = 1 / d_hat = alpha / (d - beta): alpha multiplies every depth, the ratio stays
    assert scaled.depth_lo == pytest.approx(3.0 * base.depth_lo, rel=1e-5)
    assert scaled.depth_hi == pytest.approx(3.0 * base.depth_hi, rel=1e-5)
    assert scaled.depth_ratio == pytest.approx(base.depth_ratio, rel=1e-5)
    # a shift towards the far values stretches far much more than near
    assert shifted.depth_ratio > 2.0 * base.depth_ratio
    assert base.valid_fraction == shifted.valid_fraction == 1.0


def test_a_shift_beyond_the_far_values_sends_pixels_beyond_infinity():
    pred = _map()
    effect = scale_shift_effect(pred, 1.0, float(np.median(pred)))
    assert 0.4 < effect.valid_fraction < 0.6
    nothing = scale_shift_effect(pred, 1.0, float(pred.max()) + 1.0)
    assert nothing.valid_fraction == 0.0 and nothing.depth_lo == nothing.depth_hi == nothing.depth_ratio == 0.0


def test_transformed_range():
    effect = scale_shift_effect(np.array([[1.0, 5.0]], np.float32), 2.0, 1.0)
    assert (effect.transformed_lo, effect.transformed_hi) == (0.0, 2.0)


@pytest.mark.parametrize(("alpha", "beta"), [(0.0, 0.0), (np.nan, 0.0), (1.0, np.inf)])
def test_bad_scale_or_shift_is_refused(alpha, beta):
    with pytest.raises(ValueError, match="alpha"):
        scale_shift_effect(_map(), alpha, beta)


def test_constant_map_cannot_be_recovered():
    with pytest.raises(AlignmentError, match="same predicted value"):
        scale_shift_effect(np.full((4, 4), 3.0, np.float32), 2.0, 1.0)


@pytest.mark.parametrize("bad", [np.ones(5), np.array([[1.0, np.nan]])])
def test_bad_maps_are_refused(bad):
    with pytest.raises(ValueError):
        scale_shift_effect(bad, 1.0, 0.0)
