from __future__ import annotations

import io

import numpy as np
import pytest

from core.measure.metric_depth import (
    MAX_PNG16_METRES,
    depth_npy_m_bytes,
    depth_png16_mm_bytes,
    metric_histogram,
    metric_range,
)
from core.measure.metrics import load_ground_truth


def test_png16_in_millimetres_reads_back_as_ground_truth():
    depth = np.array([[0.5, 1.2345, 70.0], [2.0, 3.0, 0.0004]], np.float32)
    valid = np.array([[True, True, True], [False, True, True]])

    data = depth_png16_mm_bytes(depth, valid)
    back = load_ground_truth(data, kind="png16", unit="mm")

    # 1.2345 m -> 1234 or 1235 mm; beyond 65.535 m, invalid pixels and 0 mm are "no depth"
    np.testing.assert_allclose(back, [[0.5, 1.2345, 0.0], [0.0, 3.0, 0.0]], atol=5e-4)
    assert MAX_PNG16_METRES == 65.535


def test_npy_in_metres_keeps_float32_and_zeros_invalid():
    depth = np.array([[1.5, np.nan], [2.25, 4.0]])
    valid = np.array([[True, True], [False, True]])

    arr = np.load(io.BytesIO(depth_npy_m_bytes(depth, valid)), allow_pickle=False)

    assert arr.dtype == np.float32
    np.testing.assert_array_equal(arr, [[1.5, 0.0], [0.0, 4.0]])  # NaN is never written
    np.testing.assert_array_equal(load_ground_truth(depth_npy_m_bytes(depth, valid), kind="npy", unit="m"), arr)


def test_histogram_and_range_leave_invalid_pixels_out():
    depth = np.array([[1.0, 2.0], [3.0, 1000.0]], np.float32)
    valid = np.array([[True, True], [True, False]])

    hist = metric_histogram(depth, valid, bins=4)
    window = metric_range(depth, valid, (0.0, 100.0))

    assert hist.total == 3 and hist.edges[0] == 1.0 and hist.edges[-1] == 3.0
    assert (window.nearest_m, window.farthest_m, window.no_depth, window.total) == (1.0, 3.0, 1, 4)
    assert (window.near_m, window.median_m, window.far_m, window.outside) == (1.0, 2.0, 3.0, 0)


def test_a_far_tail_is_counted_outside_the_percentile_window():
    # 992 pixels from 1 to 10 m and 8 sky-like ones near 10 km (under 1 %), as 1 / (s d + t) gives near d = -t/s
    depth = np.concatenate([np.linspace(1.0, 10.0, 992), np.linspace(9000.0, 10852.96, 8)]).reshape(20, 50)
    valid = np.ones(depth.shape, bool)
    valid[0, :3] = False  # three pixels beyond infinity

    window = metric_range(depth, valid)

    values = depth[valid]
    assert window.near_m == pytest.approx(np.percentile(values, 1)) and window.far_m == pytest.approx(np.percentile(values, 99))
    assert window.far_m < 11.0 and window.farthest_m == pytest.approx(10852.96)  # the window ignores the tail
    assert window.farther == int((values > window.far_m).sum()) >= 8  # the sky is counted beyond the range
    assert window.nearer == int((values < window.near_m).sum()) and window.no_depth == 3
    assert window.outside == window.nearer + window.farther and window.total == 1000
    hist = metric_histogram(depth, valid, bins=16, lo=window.near_m, hi=window.far_m)
    assert hist.edges[0] == pytest.approx(window.near_m, rel=1e-6) and hist.edges[-1] == pytest.approx(window.far_m, rel=1e-6)
    assert hist.total == values.size - window.outside  # what lies beyond the window is left out


def test_a_large_map_takes_its_window_from_an_even_sample():
    rng = np.random.default_rng(3)
    depth = rng.lognormal(1.0, 0.6, size=(1200, 1000)).astype(np.float32)  # 1.2 MP: sampled
    valid = depth < 20.0

    window = metric_range(depth, valid)

    exact = np.percentile(depth[valid], [1, 50, 99])
    # every 4th pixel of 1.2 M, ~300k samples: a sample quantile's rank is off by about
    # sqrt(p (1 - p) / n) = 1.8e-4 at p99, and the lognormal's density there is ~0.004 per metre,
    # so ~0.05 m (1 sigma) at p99 and far less at p1 and p50; 0.25 m is 5 sigma (seen: 0.019 m)
    np.testing.assert_allclose([window.near_m, window.median_m, window.far_m], exact, atol=0.25)
    assert window.farther == int((depth[valid] > window.far_m).sum())  # counts are exact, not sampled
    assert window.nearest_m == float(depth[valid].min()) and window.farthest_m == float(depth[valid].max())


@pytest.mark.parametrize("percentiles", [(5.0, 5.0), (-1.0, 99.0), (1.0, 101.0), (99.0, 1.0)])
def test_range_percentiles_are_checked(percentiles):
    with pytest.raises(ValueError, match="percentiles"):
        metric_range(np.ones((2, 2)), np.ones((2, 2), bool), percentiles)


def test_range_of_nothing_valid_is_refused():
    with pytest.raises(ValueError, match="no pixel has a finite positive depth"):
        metric_range(np.ones((2, 2)), np.zeros((2, 2), bool))


def test_histogram_with_nothing_valid_is_empty():
    hist = metric_histogram(np.ones((2, 2)), np.zeros((2, 2), bool))
    assert hist.total == 0


@pytest.mark.parametrize(
    ("depth", "valid"),
    [(np.ones((2, 2)), np.ones((2, 3), bool)), (np.ones((2, 2)), np.ones((2, 2))), (np.ones(4), np.ones(4, bool))],
)
def test_shapes_and_mask_are_checked(depth, valid):
    with pytest.raises(ValueError):
        depth_png16_mm_bytes(depth, valid)
