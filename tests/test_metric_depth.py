from __future__ import annotations

import io

import numpy as np
import pytest

from core.metric_depth import (
    MAX_PNG16_METRES,
    depth_npy_m_bytes,
    depth_png16_mm_bytes,
    metric_histogram,
    metric_stats,
)
from core.metrics import load_ground_truth


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


def test_histogram_and_stats_leave_invalid_pixels_out():
    depth = np.array([[1.0, 2.0], [3.0, 1000.0]], np.float32)
    valid = np.array([[True, True], [True, False]])

    hist = metric_histogram(depth, valid, bins=4)
    stats = metric_stats(depth, valid)

    assert hist.total == 3 and hist.edges[0] == 1.0 and hist.edges[-1] == 3.0
    assert (stats.min, stats.max, stats.nonfinite) == (1.0, 3.0, 1)
    assert stats.mean == pytest.approx(2.0)


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
